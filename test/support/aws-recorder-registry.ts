/**
 * The parts of the AWS stand-in (aws-recorder.ts) that onboarding at run time needs: EventBridge Scheduler
 * (CreateSchedule, UpdateSchedule, GetSchedule, DeleteSchedule over its REST protocol, answering
 * ConflictException and ResourceNotFoundException like the service; a schedule created or updated also
 * records the iam:PassRole of its target's role) and the Secrets Manager writes
 * (CreateSecret, DeleteSecret) on the stand-in's list of secrets. Every call is recorded like the others.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Exchange, StandInSecret } from './aws-recorder.ts';
import { ACCOUNT, REGION } from './cfn-template.ts';

/** A schedule as Scheduler holds it: the request body it was created or last updated with. */
export type StandInSchedule = Record<string, unknown> & { Name: string; GroupName: string };

function answer(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  response.end(text);
}

const scheduleArn = (group: string, name: string) =>
  `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${group}/${name}`;

/** Scheduler's REST routes `/schedules/{Name}` (the group in the body or `?groupName=`). */
export function schedulerHandler(schedules: Map<string, StandInSchedule>) {
  return async ({ request, response, body, record, permitted }: Exchange): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const name = decodeURIComponent(/^\/schedules\/([^/]+)$/.exec(url.pathname)?.[1] ?? '');
    const input = (body ? JSON.parse(body) : {}) as Record<string, unknown>;
    const group = String(input.GroupName ?? url.searchParams.get('groupName') ?? 'default');
    const action = {
      POST: 'CreateSchedule',
      PUT: 'UpdateSchedule',
      GET: 'GetSchedule',
      DELETE: 'DeleteSchedule',
    }[request.method ?? ''];
    if (!name || !action) throw new Error(`unsupported scheduler ${request.method} ${url.pathname}`);
    record(`scheduler:${action}`, scheduleArn(group, name));
    // A schedule names the role Scheduler assumes: creating or updating it passes that role (iam:PassRole).
    const roleArn = (input.Target as { RoleArn?: unknown } | undefined)?.RoleArn;
    if (typeof roleArn === 'string') {
      record('iam:PassRole', roleArn, { 'iam:PassedToService': 'scheduler.amazonaws.com' });
    }
    if (!(await permitted())) return;
    const key = `${group}/${name}`;
    const existing = schedules.get(key);
    if (action === 'CreateSchedule' && existing) {
      return answer(response, 409, { Message: `Schedule ${name} already exists.` }, 'ConflictException');
    }
    if (action !== 'CreateSchedule' && !existing) {
      return answer(
        response,
        404,
        { Message: `Schedule ${name} does not exist.` },
        'ResourceNotFoundException',
      );
    }
    if (action === 'DeleteSchedule') schedules.delete(key);
    else if (action === 'GetSchedule')
      return answer(response, 200, { ...existing, Arn: scheduleArn(group, name) });
    else schedules.set(key, { ...input, Name: name, GroupName: group } as StandInSchedule);
    answer(response, 200, action === 'DeleteSchedule' ? {} : { ScheduleArn: scheduleArn(group, name) });
  };
}

/** CreateSecret and DeleteSecret on the stand-in's secrets; false when `operation` is neither. */
export function writeSecret(
  operation: string,
  input: Record<string, unknown>,
  secrets: StandInSecret[],
  response: ServerResponse,
): boolean {
  if (operation === 'CreateSecret') {
    const name = String(input.Name);
    if (secrets.some((s) => s.arn.split(':secret:')[1]?.replace(/-[A-Za-z0-9]{6}$/, '') === name)) {
      answer(response, 400, {
        __type: 'ResourceExistsException',
        message: `the secret ${name} already exists`,
      });
      return true;
    }
    const suffix = randomBytes(3).toString('hex');
    const arn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${suffix}`;
    secrets.push({
      arn,
      value: String(input.SecretString ?? ''),
      tags: (input.Tags ?? []) as StandInSecret['tags'],
    });
    answer(response, 200, { ARN: arn, Name: name, VersionId: 'v1' });
    return true;
  }
  if (operation === 'DeleteSecret') {
    const at = secrets.findIndex((s) => s.arn === input.SecretId);
    const [removed] = at >= 0 ? secrets.splice(at, 1) : [];
    if (!removed) {
      answer(response, 400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
    } else {
      answer(response, 200, { ARN: removed.arn, DeletionDate: Date.now() / 1000 });
    }
    return true;
  }
  return false;
}
