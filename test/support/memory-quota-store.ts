/** An in-process `QuotaStore` for tests (the CLI counts in its embedded DynamoDB, through DynamoQuotaStore). */
import { assertDay, assertRequests, type QuotaStore } from '../../shared/quota/budget.ts';

export class MemoryQuotaStore implements QuotaStore {
  readonly #counts = new Map<string, number>();

  async consume(apiKeyId: string, day: string, requests: number): Promise<number> {
    assertDay(day);
    assertRequests(requests);
    const key = `${apiKeyId}\u0000${day}`;
    const total = (this.#counts.get(key) ?? 0) + requests;
    this.#counts.set(key, total);
    return total;
  }

  async used(apiKeyId: string, day: string): Promise<number> {
    assertDay(day);
    return this.#counts.get(`${apiKeyId}\u0000${day}`) ?? 0;
  }
}
