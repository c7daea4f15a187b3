/** The `warden` command line. One file per command; this one only wires them. */
import { Command } from 'commander';
import { auditTail, auditTraceCommand } from './audit.js';
import { auditVerify } from './audit-verify.js';
import { connect } from './connect.js';
import { demo } from './demo.js';
import { hideOptionValues, secretList, secretRm, secretRotate, secretRotateMaster, secretSet } from './secret.js';
import { serve } from './serve.js';
import { VERSION } from './version.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('warden').description('mcp-warden: an access gateway for MCP servers').version(VERSION);
  program
    .command('serve')
    .description('run the gateway in front of the servers of a config file')
    .requiredOption('-c, --config <file>', 'config file (YAML or JSON)')
    .action(serve);
  program.command('demo').description('start the gateway in front of the reference MCP servers and play a short session through it').action(demo);
  program
    .command('connect')
    .description("a stdio MCP server for desktop apps and IDEs: forwards to the gateway with the agent's credential")
    .argument('<gateway-url>', 'the gateway MCP endpoint, e.g. https://gateway.example.com/mcp')
    .option('--token-file <file>', 'a bearer token (an access token, a JWT-SVID) in a file, read again when it changes')
    .option('--token-url <url>', 'OAuth token endpoint for the client credentials grant')
    .option('--client-id <id>', "the agent's OAuth client id")
    .option('--client-secret-file <file>', 'the client secret in a file (else WARDEN_CLIENT_SECRET); sent as client_secret_basic')
    .option('--private-key <file>', 'a private key (PEM or JWK) for private_key_jwt client authentication instead of a secret')
    .option('--key-id <kid>', 'the kid of the private key')
    .option('--alg <alg>', 'the client assertion algorithm (default from the key: ES256 for P-256)')
    .option('--scope <scopes>', 'scopes to request, space-separated')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(connect);
  const audit = program.command('audit').description('read the audit log');
  audit
    .command('tail')
    .description('print the newest audit events')
    .option('-c, --config <file>', 'config file naming the store', 'warden.yaml')
    .option('--json', 'one JSON object per line')
    .option('-n, --limit <n>', 'how many events', '20')
    .action(auditTail);
  audit
    .command('verify')
    .description('check the hash chain and signed checkpoints; name the first broken link')
    .option('-c, --config <file>', 'config file naming the store', 'warden.yaml')
    .option('--json', 'the result as JSON')
    .action(auditVerify);
  audit
    .command('trace')
    .description('the timeline of a task, session, user or agent: every hop with its decision, approval and credentials')
    .option('-c, --config <file>', 'config file naming the store', 'warden.yaml')
    .option('--task <id>', 'events of this task')
    .option('--session <id>', 'events of this MCP session')
    .option('--user <user>', 'events acting for this user')
    .option('--agent <agent>', 'events by this agent, acting or delegating')
    .option('--since <time>', 'ISO-8601 time, or a duration back from now (30m, 12h, 7d)')
    .option('-n, --limit <n>', 'at most this many events (the newest)', '1000')
    .option('--json', 'one JSON event per line')
    .action(auditTraceCommand);
  const secret = program
    .command('secret')
    .description('the secrets vault: values are read from stdin, never from arguments, and never printed');
  const scoped = (cmd: Command): Command =>
    cmd
      .option('-c, --config <file>', 'config file naming the store and the vault', 'warden.yaml')
      .option('--tenant <tenant>', 'scope the secret to a tenant')
      .option('--env <environment>', 'scope the secret to an environment')
      .option('--upstream <upstream>', 'scope the secret to an upstream server')
      .configureOutput({ outputError: (text, write) => write(hideOptionValues(text)) })
      .showHelpAfterError()
      .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  const exit = (run: Promise<number>): Promise<void> => run.then((code) => void (process.exitCode = code));
  scoped(secret.command('set').description('store the value read from stdin (to EOF; one trailing newline dropped) as a new version').argument('<name>'))
    .action((name: string, opts) => exit(secretSet(name, opts)));
  scoped(secret.command('rotate').description('store the value read from stdin as the next version of an existing secret').argument('<name>'))
    .action((name: string, opts) => exit(secretRotate(name, opts)));
  scoped(secret.command('rm').description('delete every version of a secret').argument('<name>')).action((name: string, opts) => exit(secretRm(name, opts)));
  scoped(secret.command('list').description('metadata of every secret (name, scope, version, master key id, updated); never a value'))
    .option('--json', 'one JSON object per line')
    .action((opts) => exit(secretList(opts)));
  secret
    .command('rotate-master')
    .description('re-wrap every data key under a new master key, from the configured keys (current and previous); resumable')
    .option('-c, --config <file>', 'config file naming the store and the vault', 'warden.yaml')
    .option('--new-key-file <file>', 'the new master key (else WARDEN_NEW_MASTER_KEY)')
    .option('--batch-size <n>', 'rows re-wrapped per batch', '100')
    .configureOutput({ outputError: (text, write) => write(hideOptionValues(text)) })
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action((opts) => exit(secretRotateMaster(opts)));
  await program.parseAsync(argv);
}
