import { describe, expect, it } from 'vitest';
import { ConfigError, helpText, parseConfig, FLAGS } from '../../src/config.js';

describe('config', () => {
  it('defaults: stdio MCP server with the embedded backend', () => {
    const parsed = parseConfig([], {});
    expect(parsed).toMatchObject({ command: 'mcp', config: { http: false, port: 3333, host: '127.0.0.1', timeout: 30000 } });
  });

  it('reads flags and INSFORGE_* env, flags winning', () => {
    const parsed = parseConfig(['--http', '--port', '4000'], { INSFORGE_PORT: '5000', INSFORGE_HOST: '127.0.0.2', INSFORGE_DATA_DIR: '/tmp/x' });
    expect(parsed).toMatchObject({ command: 'mcp', config: { http: true, port: 4000, host: '127.0.0.2', dataDir: '/tmp/x' } });
  });

  it('parses the backend command, whose port defaults to the one kept in the data dir', () => {
    const parsed = parseConfig(['backend', '--data-dir', '/d', '--database-url', 'postgres://u@h/db'], {});
    expect(parsed).toMatchObject({ command: 'backend', config: { dataDir: '/d', databaseUrl: 'postgres://u@h/db' } });
    expect((parsed as { config: { port?: number } }).config.port).toBeUndefined();
    expect(parseConfig(['backend', '--port', '7200'], {})).toMatchObject({ config: { port: 7200 } });
    expect(parseConfig(['backend'], { DATABASE_URL: 'postgresql://x/y' })).toMatchObject({ config: { databaseUrl: 'postgresql://x/y' } });
  });

  it.each([
    [['--nope'], /Unknown option '--nope'/],
    [['--port', 'abc'], /--port \(INSFORGE_PORT\)/],
    [['--port', '70000'], /--port/],
    [['--url', 'ftp://x'], /--url/],
    [['--url', 'http://x.example'], /--url needs --api-key/],
    [['backend', '--http'], /Unknown option '--http'/],
    [['--database-url', 'mysql://x'], /--database-url/],
    [['stray-positional'], /positional/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseConfig(argv as string[], {})).toThrow(ConfigError);
    expect(() => parseConfig(argv as string[], {})).toThrow(message);
  });

  it('rejects a malformed env value too', () => {
    expect(() => parseConfig([], { INSFORGE_TIMEOUT_MS: '-5' })).toThrow(/--timeout \(INSFORGE_TIMEOUT_MS\)/);
  });

  it('takes --allowed-origins as origins, scheme://host:* or *, and names an entry that is none', () => {
    const parsed = parseConfig(['--http', '--allowed-origins', 'http://localhost:5173, https://app.example,http://[::1]:8080,http://dev.internal:*,*'], {});
    expect(parsed).toMatchObject({ config: { allowedOrigins: ['http://localhost:5173', 'https://app.example', 'http://[::1]:8080', 'http://dev.internal:*', '*'] } });
    // an Origin header has no path, and always a scheme: these would never match, silently
    for (const entry of ['localhost:5173', 'https://app.example/', 'app.example', 'ftp://x.example', 'http://*.example']) {
      expect(() => parseConfig(['--http', '--allowed-origins', entry], {}), entry).toThrow(`--allowed-origins (INSFORGE_ALLOWED_ORIGINS): "${entry}" is not an origin`);
    }
  });

  it('strips a trailing slash from --url', () => {
    expect(parseConfig(['--url', 'https://a.example/', '--api-key', 'ik_12345678'], {})).toMatchObject({ config: { url: 'https://a.example' } });
  });

  it('--help lists every flag of the command with its env var', () => {
    const text = helpText('mcp');
    for (const [flag, spec] of Object.entries(FLAGS)) {
      if (!(spec.for as readonly string[]).includes('mcp')) continue;
      expect(text).toContain(`--${flag}`);
      if ('env' in spec && spec.env) expect(text).toContain(spec.env);
    }
    expect(parseConfig(['--help'], {})).toMatchObject({ command: 'help' });
  });
});
