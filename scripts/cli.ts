/**
 * `npm run admin -- <group> <action> [ARGS] [--flags]`: the operators' CLI. It only talks to the
 * gateway's HTTP admin API (and GET /v1/tasks with a consumer key), never to the database.
 * GATEWAY_URL (default http://localhost:3000) and ADMIN_TOKEN are read here, once; --url and --token
 * override them. API errors print the API's message and exit 1.
 */
import { parseArgs } from 'node:util';
import { accounts } from './cli/accounts';
import { createApi } from './cli/api';
import { channels } from './cli/channels';
import { CliError, type CommandGroup, type Options } from './cli/command';
import { keys } from './cli/keys';
import { models } from './cli/models';
import { secrets } from './cli/secrets';
import { tasks } from './cli/tasks';

const groups: Record<string, CommandGroup> = { accounts, keys, channels, models, tasks, secrets };

const GLOBAL_OPTIONS: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

function usage(only?: string): string {
  const lines: string[] = [];
  for (const [group, commands] of Object.entries(groups)) {
    if (only && group !== only) continue;
    for (const [action, command] of Object.entries(commands)) {
      lines.push(`  ${`${group} ${action} ${command.usage}`.trimEnd()}`, `      ${command.summary}`);
    }
  }
  return [
    'Usage: npm run admin -- <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options:',
    '  --url URL      the gateway (default: $GATEWAY_URL, else http://localhost:3000)',
    '  --token TOKEN  the admin token (default: $ADMIN_TOKEN)',
    "  --json         print the API's JSON answer instead of text",
    '  -h, --help     this help',
  ].join('\n');
}

/** The first two words that are neither flags nor the values of --url / --token. */
function commandWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const token = argv[i]!;
    if (token === '--url' || token === '--token') i++;
    else if (!token.startsWith('-')) words.push(token);
  }
  return words;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [group, action] = commandWords(argv);
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (!group || (wantsHelp && !(action && groups[group]?.[action]))) {
    const known = group && groups[group] ? group : undefined;
    if (group && !known) throw new CliError(`Unknown command ${group} (see --help)`);
    process.stdout.write(`${usage(known)}\n`);
    return 0;
  }
  const command = groups[group]?.[action ?? ''];
  if (!command) throw new CliError(`Unknown command ${[group, action].filter(Boolean).join(' ')} (see ${groups[group] ? `${group} ` : ''}--help)`);

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (error) {
    // node:util's message goes on about positionals starting with '-': the first sentence says it all.
    const message = (error as Error).message.replace(/\. To specify a positional[\s\S]*$/, '.');
    throw new CliError(`${message}\nUsage: ${group} ${action} ${command.usage}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    process.stdout.write(`Usage: npm run admin -- ${group} ${action} ${command.usage}\n  ${command.summary}\n`);
    return 0;
  }
  const args = parsed.positionals.slice(2);
  const expected = command.args ?? [];
  if (args.length !== expected.length) {
    throw new CliError(`${group} ${action} takes ${expected.length ? expected.join(' ') : 'no arguments'}\nUsage: ${group} ${action} ${command.usage}`);
  }

  const api = createApi({
    url: (values.url as string | undefined) ?? env.GATEWAY_URL ?? 'http://localhost:3000',
    token: (values.token as string | undefined) ?? env.ADMIN_TOKEN,
  });
  await command.run({
    values,
    args,
    api,
    emit: (result, render) => process.stdout.write(`${values.json ? JSON.stringify(result, null, 2) : render()}\n`),
    warn: (text) => process.stderr.write(`${text}\n`),
  });
  return 0;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(error instanceof CliError ? `error: ${error.message}\n` : `error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
