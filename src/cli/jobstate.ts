#!/usr/bin/env node
/**
 * jobstate: look at and change job instance rows, for local development and
 * operations. Same settings as the endpoint (environment first, then the
 * Values of ./local.settings.json, as func does).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { TableClient } from '@azure/data-tables';
import { ConfigError, NO_TABLE_CONNECTION, readTableConfig } from '../config';
import { ERROR_SOURCES, type ErrorDetails, type ErrorSource, type JobInstanceStatus } from '../fabric/contract';
import { describeError, FabricError } from '../fabric/errors';
import { checkListLimit, listJobInstances } from '../jobs/jobListing';
import { checkNewJobInstance, checkStatusChange, JobStateWriter, type NewJobInstance } from '../jobs/jobStateWriter';
import { createTableClient } from '../storage/tableClient';
import { isGuid } from '../ids';
import { forLog } from '../logValue';
import { describeStorageError, statusCodeOf } from '../storage/storageErrors';
import { InvalidJobInputError, JobNotFoundError, JobStateWriteError } from '../jobs/writerErrors';
import { JobStateStore } from '../jobs/jobStateStore';
import { MAX_FAILURE_MESSAGE_LENGTH } from '../jobs/lifecycle';
import { MAX_STRING_PROPERTY_LENGTH } from '../text';

const USAGE = `Usage: jobstate <command> [options]

Commands:
  create   create a job instance row
  set      move a job instance to another status
  show     print one job instance
  list     print the job instances of an item, most recently changed first

Run "jobstate <command> --help" for a command's options.
Settings: JOB_STATE_TABLE_CONNECTION_STRING or JOB_STATE_TABLE_ENDPOINT, and JOB_STATE_TABLE_NAME,
from the environment or from ./local.settings.json.`;

const ID_OPTIONS = {
  item: { type: 'string' },
  instance: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | undefined>;

interface Command {
  usage: string;
  options: ParseArgsConfig['options'];
  positionals?: number;
  /** What to say when the positional argument is missing. */
  missingPositional?: string;
  /** Checks the input (throwing InvalidJobInputError) and returns the work, which alone needs settings and storage. */
  prepare(values: Values, positionals: string[]): (table: TableClient) => Promise<unknown>;
}

const COMMANDS: Record<string, Command> = {
  create: {
    usage: `Usage: jobstate create --item <item id> --instance <job instance id> --tenant <tenant id>
                       --workspace <workspace id> --item-type <type> --job-type <type> [--status NotStarted|InProgress]`,
    options: {
      ...ID_OPTIONS,
      tenant: { type: 'string' },
      workspace: { type: 'string' },
      'item-type': { type: 'string' },
      'job-type': { type: 'string' },
      status: { type: 'string', default: 'NotStarted' },
    },
    prepare: (v) => {
      const job: NewJobInstance = {
        itemId: required(v, 'item'),
        jobInstanceId: required(v, 'instance'),
        tenantId: required(v, 'tenant'),
        workspaceId: required(v, 'workspace'),
        itemType: required(v, 'item-type'),
        jobType: required(v, 'job-type'),
        status: v.status as JobInstanceStatus,
      };
      checkNewJobInstance(job);
      return (table) => new JobStateWriter(table).create(job);
    },
  },
  set: {
    usage: `Usage: jobstate set <status> --item <item id> --instance <job instance id>
           [--error-code <code> --error-message <text> [--error-source System|User|External] [--permanent]]
  Status: InProgress, Completed, Failed (needs --error-code and --error-message) or Cancelled.
  --error-message: at most ${MAX_FAILURE_MESSAGE_LENGTH} characters (UTF-16 units), the bound the runner keeps of a
  handler's message; the whole ErrorDetails must fit one Table property (${MAX_STRING_PROPERTY_LENGTH}).`,
    options: {
      ...ID_OPTIONS,
      'error-code': { type: 'string' },
      'error-message': { type: 'string' },
      'error-source': { type: 'string', default: 'System' },
      permanent: { type: 'boolean' },
    },
    positionals: 1,
    missingPositional: 'the status (InProgress, Completed, Failed or Cancelled) is missing',
    prepare: (v, [target]) => {
      const itemId = required(v, 'item');
      const jobInstanceId = required(v, 'instance');
      const errorDetails = errorDetailsFrom(v);
      // The writer's own messages speak of ErrorDetails; here they are options.
      if (target === 'Failed' && !errorDetails)
        throw new InvalidJobInputError('Failed needs --error-code and --error-message');
      if (target !== 'Failed' && errorDetails)
        throw new InvalidJobInputError(`only Failed takes --error-code and --error-message, not ${forLog(target)}`);
      checkStatusChange(itemId, jobInstanceId, target, errorDetails);
      return (table) =>
        new JobStateWriter(table).setStatus(itemId, jobInstanceId, target as JobInstanceStatus, errorDetails);
    },
  },
  show: {
    usage: 'Usage: jobstate show --item <item id> --instance <job instance id>',
    options: ID_OPTIONS,
    prepare: (v) => {
      const itemId = guid(v, 'item');
      const jobInstanceId = guid(v, 'instance');
      return async (table) => {
        const record = await new JobStateStore(table).read(itemId, jobInstanceId);
        if (!record) throw new JobNotFoundError(`job ${itemId}/${jobInstanceId} does not exist`);
        // The payload's size, not its content: it may be 32,768 characters of a customer's data. The user's
        // sealed token is never printed (output gets pasted into tickets); its expiry says the job holds one.
        const { creationPayload, userAssertion: _sealed, ...shown } = record;
        return creationPayload === undefined ? shown : { ...shown, creationPayloadCharacters: creationPayload.length };
      };
    },
  },
  list: {
    usage: 'Usage: jobstate list --item <item id> [--limit <1-100, default 20>]',
    options: {
      item: { type: 'string' },
      limit: { type: 'string', default: '20' },
      help: { type: 'boolean', short: 'h' },
    },
    prepare: (v) => {
      const itemId = guid(v, 'item');
      const limit = Number(v.limit);
      checkListLimit(limit, '--limit');
      return (table) => listJobInstances(table, itemId, limit);
    },
  },
};

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new InvalidJobInputError(`--${name} is required`);
  return value;
}

function guid(values: Record<string, unknown>, name: string): string {
  const value = required(values, name);
  if (!isGuid(value)) throw new InvalidJobInputError(`--${name} must be a GUID`);
  return value.toLowerCase();
}

function errorDetailsFrom(v: Values): ErrorDetails | undefined {
  const code = v['error-code'] as string | undefined;
  const message = v['error-message'] as string | undefined;
  if (code === undefined && message === undefined && !v.permanent) return undefined;
  if (!code || !message) throw new InvalidJobInputError('--error-code and --error-message go together');
  if (message.length > MAX_FAILURE_MESSAGE_LENGTH)
    throw new InvalidJobInputError(
      `--error-message is ${message.length} characters long; at most ${MAX_FAILURE_MESSAGE_LENGTH} are kept (as the runner keeps of a handler's message)`,
    );
  const source = v['error-source'] as string;
  if (!(ERROR_SOURCES as readonly string[]).includes(source))
    throw new InvalidJobInputError(`--error-source must be one of ${ERROR_SOURCES.join(', ')}`);
  return { errorCode: code, message, source: source as ErrorSource, isPermanent: Boolean(v.permanent) };
}

const LOCAL_SETTINGS = 'local.settings.json';

/** The environment, with gaps filled from ./local.settings.json's Values (the environment wins, as with func). */
export function cliSettings(env: NodeJS.ProcessEnv, cwd: string): Record<string, string | undefined> {
  const file = join(cwd, LOCAL_SETTINGS);
  if (!existsSync(file)) return env;
  const values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  return { ...values, ...env };
}

/** The settings problems, and for a fresh clone (no table at all) what to do about it. */
function describeSettingsProblems(error: ConfigError, cwd: string): string {
  return error.problems
    .map((problem) => {
      if (problem !== NO_TABLE_CONNECTION) return problem;
      return existsSync(join(cwd, LOCAL_SETTINGS))
        ? `${problem}: neither is in the environment or in ./${LOCAL_SETTINGS}`
        : `${problem}: set one in the environment, or copy local.settings.sample.json to ./${LOCAL_SETTINGS} (it points at the Azurite that npm start runs)`;
    })
    .join('; ');
}

function print(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** One line, never a stack: what went wrong and, where it helps, which setting or input. */
function describe(error: unknown, cwd: string): { message: string; exitCode: number } {
  if (error instanceof InvalidJobInputError) return { message: error.message, exitCode: 2 };
  if (error instanceof ConfigError) return { message: describeSettingsProblems(error, cwd), exitCode: 2 };
  if (error instanceof JobStateWriteError) return { message: error.message, exitCode: 1 };
  if (error instanceof FabricError) return { message: describeError(error), exitCode: 1 };
  if (statusCodeOf(error) !== undefined || (error as Error)?.name === 'RestError')
    return { message: `storage: ${describeStorageError(error)}`, exitCode: 1 };
  // Anything else (a credential error, say) can run to many lines: the first says what happened.
  return { message: (error instanceof Error ? error.message : String(error)).split('\n', 1)[0], exitCode: 1 };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`jobstate: unknown command ${JSON.stringify(name)} (try jobstate --help)\n`);
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    const expected = command.positionals ?? 0;
    if (!parsed.values.help && parsed.positionals.length !== expected) {
      const missing = parsed.positionals.length < expected && command.missingPositional;
      throw new InvalidJobInputError(missing || `expected ${expected} argument(s), got ${parsed.positionals.length}`);
    }
  } catch (error) {
    // One line, as every error of this command: node's hint about '--' separators is for other programs.
    const message = (error as Error).message.split('\n', 1)[0].replace(/\. To specify a positional argument.*$/, '');
    process.stderr.write(`jobstate ${name}: ${message} (jobstate ${name} --help lists the options)\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    const work = command.prepare(parsed.values as Values, parsed.positionals);
    const settings = cliSettings(env, cwd);
    const config = readTableConfig(settings);
    print(await work(createTableClient(config.table, config.tableName, settings)));
    return 0;
  } catch (error) {
    const { message, exitCode } = describe(error, cwd);
    process.stderr.write(`jobstate ${name}: ${message}\n`);
    return exitCode;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
