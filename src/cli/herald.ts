#!/usr/bin/env node
// The `herald` command: serve, token, publish, tail, migrate.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createParser } from 'eventsource-parser';
import { mintToken } from '../auth/jwt.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { loadOrCreateDevSecret } from '../dev-secret.js';
import { startHerald } from '../main.js';
import { openStore } from '../store/open-store.js';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, config: () => Config): Promise<number | void>;
}

const urlOption = { type: 'string', default: process.env.HERALD_URL ?? 'http://127.0.0.1:8080' } as const;

function signingSecret(config: Config): string {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.devMode) return loadOrCreateDevSecret(config.databaseUrl);
  throw new ConfigError('HERALD_JWT_SECRET must be set to mint tokens');
}

async function tokenFor(values: Record<string, unknown>, config: () => Config, sub: string, scope: string): Promise<string> {
  if (typeof values.token === 'string') return values.token;
  const c = config();
  return mintToken(signingSecret(c), { sub, scope, ttlS: 3600, audience: c.jwtAudience, issuer: c.jwtIssuer });
}

const commands: Record<string, Command> = {
  serve: {
    summary: 'Run the Herald server (configuration from HERALD_* variables).',
    usage: 'herald serve',
    options: {},
    async run(_values, config) {
      const herald = await startHerald(config());
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          herald.shutdown().then(() => process.exit(0), () => process.exit(1));
        });
      }
      return new Promise<never>(() => {});
    },
  },
  token: {
    summary: 'Mint a JWT signed with HERALD_JWT_SECRET (or the development secret).',
    usage: 'herald token --sub <user> [--scope "subscribe publish"] [--groups ops,dev] [--ttl <seconds>]',
    options: { sub: { type: 'string' }, scope: { type: 'string', default: 'subscribe' }, groups: { type: 'string' }, ttl: { type: 'string', default: '86400' } },
    async run(values, config) {
      if (typeof values.sub !== 'string') throw new UsageError('--sub is required');
      const c = config();
      const groups = typeof values.groups === 'string' ? values.groups.split(',').filter(Boolean) : undefined;
      const token = await mintToken(signingSecret(c), {
        sub: values.sub, scope: String(values.scope), groups, ttlS: Number(values.ttl), audience: c.jwtAudience, issuer: c.jwtIssuer,
      });
      process.stdout.write(`${token}\n`);
    },
  },
  publish: {
    summary: 'Publish a notification through the HTTP API.',
    usage: 'herald publish (--to <user>[,<user>] | --topic broadcast|group:<name>) --type <type> --content <text> [--title <t>] [--data <json>] [--idempotency-key <k>] [--url <base>] [--token <jwt>]',
    options: {
      to: { type: 'string' }, topic: { type: 'string' }, type: { type: 'string', default: 'message' }, content: { type: 'string' },
      title: { type: 'string' }, data: { type: 'string' }, 'idempotency-key': { type: 'string' }, url: urlOption, token: { type: 'string' },
    },
    async run(values, config) {
      const body: Record<string, unknown> = { type: values.type, content: values.content };
      if (typeof values.to === 'string') body.recipients = values.to.split(',');
      if (typeof values.topic === 'string') body.topic = values.topic;
      if (typeof values.title === 'string') body.title = values.title;
      if (typeof values.data === 'string') body.data = JSON.parse(values.data);
      if (typeof values['idempotency-key'] === 'string') body.idempotency_key = values['idempotency-key'];
      const token = await tokenFor(values, config, 'cli', 'publish');
      const res = await fetch(`${values.url}/v1/notifications`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      process.stdout.write(`${await res.text()}\n`);
      return res.status === 202 ? 0 : 1;
    },
  },
  tail: {
    summary: "Print a user's stream, one JSON line per event.",
    usage: 'herald tail (--user <user> | --token <jwt>) [--url <base>] [--last-event-id <cursor>]',
    options: { user: { type: 'string' }, token: { type: 'string' }, url: urlOption, 'last-event-id': { type: 'string' } },
    async run(values, config) {
      if (typeof values.user !== 'string' && typeof values.token !== 'string') throw new UsageError('--user or --token is required');
      const token = await tokenFor(values, config, String(values.user), 'subscribe');
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
      if (typeof values['last-event-id'] === 'string') headers['last-event-id'] = values['last-event-id'];
      const res = await fetch(`${values.url}/v1/stream`, { headers });
      if (res.status !== 200 || !res.body) {
        process.stderr.write(`${res.status} ${await res.text()}\n`);
        return 1;
      }
      const parser = createParser({
        onEvent: (event) => process.stdout.write(`${JSON.stringify({ event: event.event ?? 'message', id: event.id, data: safeJson(event.data) })}\n`),
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      return 0;
    },
  },
  migrate: {
    summary: 'Create or upgrade the database schema, then exit.',
    usage: 'herald migrate',
    options: {},
    async run(_values, config) {
      const store = await openStore(config().databaseUrl);
      await store.migrate();
      process.stdout.write(`database migrated (epoch ${store.epoch})\n`);
      await store.close();
    },
  },
};

class UsageError extends Error {}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function help(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `Usage: herald <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "herald <command> --help" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`herald: unknown command "${name}"\n\n${help()}`);
    return 1;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
    return 0;
  }
  const { values } = parseArgs({ args: rest, options: command.options, allowPositionals: false, strict: true });
  const code = await command.run(values as Record<string, string | boolean | undefined>, () => loadConfig());
  return code ?? 0;
}

main(process.argv.slice(2)).then((code) => {
  if (code !== 0) process.exitCode = code;
}, (err: unknown) => {
  if (err instanceof ConfigError || err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`herald: ${err.message}\n`);
  } else {
    process.stderr.write(`herald: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  }
  process.exit(1);
});
