/**
 * The `warden` command line. One file per command; this one only wires them. The same rules hold for every
 * command: the config is `-c FILE`, else ./warden.yaml; an unknown option or a bad option value is an error;
 * exit codes are 0 done, 1 failed, 2 bad usage or configuration (see exit.ts); `--json` wherever data is printed.
 */
import { Command, CommanderError, Option } from 'commander';
import { auditTail, auditTraceCommand } from './audit.js';
import { OUTCOMES } from './audit-trace.js';
import { auditVerify } from './audit-verify.js';
import { connect } from './connect.js';
import { demo } from './demo.js';
import { doctor } from './doctor.js';
import { exitCodeOf, hideOptionValues, wholeNumber } from './exit.js';
import { init } from './init.js';
import { policyExplain, policySchema, policyTest, policyValidate } from './policy.js';
import { policyReplay } from './policy-replay.js';
import { taskEnd, taskList, taskShow, taskStart } from './task.js';
import { revokeCommand, revokeList, revokeUndo } from './revoke.js';
import { toolsDecide, toolsDiff, toolsList } from './tools.js';
import { approvalsDecide, approvalsList, approvalsShow } from './approvals.js';
import { secretList, secretRm, secretRotate, secretRotateMaster, secretSet } from './secret.js';
import { secretMasterKey } from './master-key.js';
import { migrateCommand } from './migrate.js';
import { reviewCommand } from './review.js';
import { scanCommand } from './scan.js';
import { serve } from './serve.js';
import { VERSION } from './version.js';

const CONFIG = 'warden.yaml';
/** `-c FILE`, the same on every command that reads a config. */
const configOption = (what = 'config file (YAML or JSON)') => new Option('-c, --config <file>', what).default(CONFIG);
const json = (what = 'as JSON') => new Option('--json', what);
const limit = (what: string, dflt: number, max = 100_000) => new Option('-n, --limit <n>', what).default(dflt).argParser(wholeNumber('--limit', 1, max));

/** Every command, option and rule of the command line (tests walk it to check each command). */
export function buildProgram(): Command {
  const program = new Command('warden').description('mcp-warden: an access gateway for MCP servers').version(VERSION);
  // Inherited by every command added below: errors throw (mapped to exit 2), with the help after them, and
  // an option's value is never echoed in an error (someone may have typed a secret there).
  program
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(hideOptionValues(text)) });
  program
    .command('serve')
    .description('run the gateway in front of the servers of a config file; SIGHUP reloads the config')
    .addOption(configOption())
    .action(serve);
  program
    .command('demo')
    .description('an agent does a job for alice through the gateway, told step by step (offline, in a fresh folder)')
    .option('--dir <dir>', 'play it in this new or empty folder (default: a new folder in the temporary directory)')
    .action((opts: { dir?: string }) => demo(opts));
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
    .action(connect);
  const filters = (cmd: Command): Command =>
    cmd
      .option('--task <id>', 'events of this task')
      .option('--session <id>', 'events of this MCP session')
      .option('--user <user>', 'events acting for this user')
      .option('--agent <agent>', 'events by this agent, acting or delegating')
      .addOption(new Option('--outcome <outcome>', 'events with this outcome').choices(OUTCOMES))
      .option('--since <time>', 'ISO-8601 time, or a duration back from now (30m, 12h, 7d)');
  const audit = program.command('audit').description('read the audit log');
  filters(audit.command('tail').description('the newest audit events (oldest first, in time order); --follow prints new ones as they come'))
    .addOption(configOption('config file naming the store'))
    .addOption(limit('how many events', 20))
    .option('-f, --follow', 'keep printing new events that match, until interrupted')
    .addOption(json('one JSON object per line'))
    .action(auditTail);
  audit
    .command('verify')
    .description('check the hash chain and signed checkpoints; name the first broken link')
    .addOption(configOption('config file naming the store'))
    .addOption(json('the result as JSON'))
    .action(auditVerify);
  filters(audit.command('trace').description('the timeline of a task, session, user or agent: every hop with its decision, approval and credentials'))
    .addOption(configOption('config file naming the store'))
    .addOption(limit('at most this many events (the newest)', 1000))
    .addOption(json('one JSON event per line'))
    .action(auditTraceCommand);
  const secret = program
    .command('secret')
    .description('the secrets vault: values are read from stdin, never from arguments, and never printed');
  const scoped = (cmd: Command): Command =>
    cmd
      .addOption(configOption('config file naming the store and the vault'))
      .option('--tenant <tenant>', 'scope the secret to a tenant')
      .option('--env <environment>', 'scope the secret to an environment')
      .option('--upstream <upstream>', 'scope the secret to an upstream server');
  const exit = (run: Promise<number>): Promise<void> => run.then((code) => void (process.exitCode = code));
  scoped(secret.command('set').description('store the value read from stdin (to EOF; one trailing newline dropped) as a new version').argument('<name>'))
    .addOption(json('what was stored (name, scope, version, master key) as JSON'))
    .action((name: string, opts) => exit(secretSet(name, opts)));
  scoped(secret.command('rotate').description('store the value read from stdin as the next version of an existing secret').argument('<name>'))
    .addOption(json('what was stored (name, scope, version, master key) as JSON'))
    .action((name: string, opts) => exit(secretRotate(name, opts)));
  scoped(secret.command('rm').description('delete every version of a secret').argument('<name>'))
    .addOption(json('what was removed as JSON'))
    .action((name: string, opts) => exit(secretRm(name, opts)));
  scoped(secret.command('list').description('metadata of every secret (name, scope, version, master key id, updated); never a value'))
    .addOption(json('one JSON object per line'))
    .action((opts) => exit(secretList(opts)));
  secret
    .command('master-key')
    .description('make a new vault master key: printed, or written to a new file (mode 600) with --out')
    .option('--out <file>', 'write it to this new file instead of printing it')
    .action((opts: { out?: string }) => void (process.exitCode = secretMasterKey(opts)));
  secret
    .command('rotate-master')
    .description('re-wrap every data key under a new master key, from the configured keys (current and previous); resumable')
    .addOption(configOption('config file naming the store and the vault'))
    .option('--new-key-file <file>', 'the new master key (else WARDEN_NEW_MASTER_KEY)')
    .option('--batch-size <n>', 'rows re-wrapped per batch', '100')
    .addOption(json('the result as JSON'))
    .action((opts) => exit(secretRotateMaster(opts)));
  program
    .command('init')
    .description('write a commented warden.yaml, the starter policy pack and its tests')
    .option('--dir <dir>', 'where to write', '.')
    .option('--force', 'overwrite existing files')
    .action((opts) => void (process.exitCode = init(opts)));
  program
    .command('doctor')
    .description('check a config end to end: config, auth, store, policy, each upstream started and listed, what each agent sees; prints the fix for each problem')
    .addOption(configOption())
    .addOption(json('the findings as JSON'))
    .action((opts) => exit(doctor(opts)));
  const policy = program.command('policy').description('check, test and explain Cedar policies (the config is -c FILE, else ./warden.yaml)');
  policy
    .command('validate')
    .description('validate policies strictly against the gateway schema; list each with its effect, location and engine')
    .argument('[files...]', "policy files or directories (default: the config's policy.files)")
    .option('-c, --config <file>', 'config file (its policy.arguments shape the schema)')
    .addOption(json('the policies, warnings and problems as JSON'))
    .action((files: string[], opts) => exit(policyValidate(files, opts)));
  policy
    .command('test')
    .description('run YAML policy test cases (see policies/starter/starter.test.yaml); exit 1 if any fails')
    .argument('<files...>', 'case files')
    .option('-c, --config <file>', 'config whose policy a case file without `policies:` is run against')
    .addOption(json('one JSON object per case, then a summary'))
    .action((files: string[], opts) => exit(policyTest(files, opts)));
  policy
    .command('explain')
    .description('decide one request (a test case without expect, YAML or JSON) and say why')
    .option('-c, --config <file>', 'config file with the policy')
    .option('--request <file>', 'the request, or - for standard input', '-')
    .addOption(json('the decision, the determining policies and the Cedar request as built, as JSON'))
    .action((opts) => exit(policyExplain(opts)));
  policy
    .command('schema')
    .description('print the Cedar schema policies are validated against')
    .option('-c, --config <file>', 'config file (its policy.arguments)')
    .addOption(json('the schema in Cedar JSON schema form'))
    .action((opts) => exit(policySchema(opts)));
  policy
    .command('replay')
    .description('replay the audited calls of a period against a candidate policy set; list every decision that would change')
    .argument('<files...>', 'the candidate policy files or directories')
    .addOption(configOption('config file (its store and the policy in force)'))
    .option('--since <time>', 'how far back: a duration (30m, 12h, 7d) or an ISO-8601 time', '7d')
    .option('--limit <n>', 'at most this many of the newest events are read', '10000')
    .addOption(json('one JSON object per changed decision, then a summary'))
    .action((files: string[], opts) => exit(policyReplay(files, opts)));
  const task = program.command('task').description('tasks: units of authority with a purpose, a grant decided by policy, and an expiry');
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  task
    .command('start')
    .description("start a task for an agent; prints the task's gateway token on stdout (the summary on stderr)")
    .addOption(configOption('config file (store, policy, token service)'))
    .requiredOption('--agent <id>', 'the agent the task is for')
    .option('--user <sub>', 'the human the agent acts for')
    .requiredOption('--purpose <text>', 'what the task is for (recorded, and readable by policies)')
    .option('--server <name>', 'grant a whole server (repeatable)', collect)
    .option('--tool <name>', 'grant one tool by the name clients see, e.g. files__write_file (repeatable)', collect)
    .option('--ttl <duration>', 'how long the task lives: seconds or 90s, 15m, 2h', '15m')
    .option('--scope <scopes>', "the token's scopes, space- or comma-separated (default: the config's auth.requiredScopes)")
    .addOption(json('the task, what was refused, and the token as JSON'))
    .action(taskStart);
  task
    .command('list')
    .description('tasks, newest first')
    .addOption(configOption('config file naming the store'))
    .addOption(new Option('--state <state>', 'tasks in this state').choices(['active', 'ended', 'revoked']))
    .option('--agent <id>', 'tasks of this agent')
    .addOption(limit('how many', 100, 10_000))
    .addOption(json('one JSON object per line'))
    .action(taskList);
  task.command('show').description('one task').argument('<id>').addOption(configOption('config file naming the store')).addOption(json()).action(taskShow);
  task
    .command('end')
    .description('end a task: its tokens are refused from the next request on, on every replica')
    .argument('<id>')
    .addOption(configOption('config file naming the store'))
    .option('--reason <text>', 'why (recorded in the audit log)')
    .option('--revoke', 'record it as revoked rather than ended')
    .addOption(json('the task as it is now, as JSON'))
    .action(taskEnd);
  const approvals = program.command('approvals').description('human approval of calls a policy marks @approval');
  approvals
    .command('list')
    .description('approval requests, newest first')
    .addOption(configOption('config file naming the store'))
    .addOption(new Option('--state <state>', 'requests in this state').choices(['pending', 'approved', 'denied', 'consumed', 'all']).default('pending'))
    .addOption(limit('how many', 100, 10_000))
    .addOption(json('one JSON object per line'))
    .action(approvalsList);
  approvals
    .command('show')
    .description('one request: who, which call, why, the redacted arguments')
    .argument('<id>')
    .addOption(configOption('config file naming the store'))
    .addOption(json())
    .action(approvalsShow);
  for (const [name, state] of [['approve', 'approved'], ['deny', 'denied']] as const) {
    approvals
      .command(name)
      .description(`${name} a pending request: it covers exactly that call, once`)
      .argument('<id>')
      .addOption(configOption('config file naming the store'))
      .requiredOption('--as <approver>', 'who decides (one of approvals.approvers)')
      .option('--reason <text>', 'why (recorded)')
      .addOption(json('the decided request as JSON'))
      .action((id: string, opts: { config: string; as: string; reason?: string; json?: boolean }) => approvalsDecide(state, id, opts));
  }
  const revoke = program
    .command('revoke')
    .description('revoke a task, agent, user or token: refused from its next request on, on every gateway sharing the store; list and undo revocations');
  for (const [kind, what] of [['task', 'the task id'], ['agent', 'the agent id'], ['user', 'the user (subject)'], ['token', 'the token id (jti)']] as const) {
    const cmd = revoke
      .command(kind)
      .description(`revoke ${kind === 'agent' ? 'an' : 'a'} ${kind}`)
      .argument('<value>', what)
      .addOption(configOption('config file naming the store'))
      .option('--reason <text>', 'why (recorded)');
    if (kind === 'token') cmd.option('--foreign', 'a token id this gateway did not issue (from another issuer): kept until removed');
    cmd.addOption(json('the revocation record as JSON')).action((value: string, opts) => revokeCommand(kind, value, opts));
  }
  revoke
    .command('list')
    .description('revocations in force, newest first')
    .addOption(configOption('config file naming the store'))
    .addOption(new Option('--kind <kind>', 'only revocations of this kind').choices(['task', 'agent', 'user', 'token']))
    .addOption(limit('how many', 100, 10_000))
    .addOption(json('one JSON object per line'))
    .action(revokeList);
  revoke
    .command('undo')
    .description('lift a revocation: the agent, user or token is accepted again from its next request on (an ended task stays ended)')
    .argument('<kind>', 'task, agent, user or token')
    .argument('<value>', 'what was revoked, as `revoke list` shows it')
    .addOption(configOption('config file naming the store'))
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .addOption(json('the lifted revocation as JSON'))
    .action(revokeUndo);
  const tools = program.command('tools').description('tool integrity: pinned definitions, quarantined changes, approve or reject them');
  const kindOption = () => new Option('--kind <kind>', 'tool or prompt').choices(['tool', 'prompt']);
  tools
    .command('list')
    .description('every recorded tool and prompt definition: pinned, pending (quarantined), rejected or superseded, with its findings')
    .addOption(configOption('config file naming the store'))
    .option('--upstream <name>', 'only this upstream')
    .addOption(new Option('--state <state>', 'only definitions in this state').choices(['pending', 'approved', 'rejected', 'superseded', 'all']).default('all'))
    .addOption(kindOption())
    .addOption(json('one JSON object per line'))
    .action(toolsList);
  tools
    .command('diff')
    .description('what changed: each pending definition against the pin (description line by line, schema by path)')
    .argument('<upstream>')
    .argument('<name>', 'the tool (or prompt) as the upstream names it')
    .addOption(configOption('config file naming the store'))
    .addOption(kindOption())
    .addOption(json())
    .action(toolsDiff);
  for (const [verb, state] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    tools
      .command(verb)
      .description(verb === 'approve' ? 'pin the pending definition: served and callable again' : 'refuse the pending definition: it stays quarantined')
      .argument('<upstream>')
      .argument('<name>', 'the tool (or prompt) as the upstream names it')
      .addOption(configOption('config file naming the store'))
      .option('--digest <digest>', 'the definition to decide (a prefix of at least 8 hex digits), when several are pending')
      .option('--as <operator>', 'who decides (recorded)')
      .addOption(kindOption())
      .addOption(json())
      .action((upstream: string, name: string, opts) => toolsDecide(state, upstream, name, opts));
  }
  program.command('scan').description('find MCP client configs and report secrets, unpinned packages, broad roots and servers that bypass the gateway')
    .argument('[paths...]', 'files or folders (default: the known per-user config locations and the current folder)')
    .option('--format <format>', 'text, json or sarif', 'text')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--fail-on <severity>', 'exit 1 when a finding is at or above: info, low, medium, high or critical')
    .option('--gateway-url <url>', 'a gateway URL: client entries pointing at it go through the gateway (repeatable)', collect)
    .action((paths: string[], opts) => exit(scanCommand(paths, opts)));
  program.command('migrate').description("move a client config's servers behind the gateway: secrets into the vault, servers into warden.yaml, one warden connect entry in the client")
    .argument('<file>', 'the client config (claude_desktop_config.json, .cursor/mcp.json, .vscode/mcp.json, config.toml, ...)')
    .option('-c, --config <file>', 'the warden config to add the servers to (created when missing)', 'warden.yaml')
    .option('--env <environment>', 'environment of the moved servers and their secrets: prod, staging, dev or sandbox', 'prod')
    .option('--tenant <tenant>', 'tenant of the moved servers and their secrets')
    .option('--gateway-url <url>', 'the URL the client reaches the gateway at (default: publicUrl, else http://listen/mcp)')
    .option('--launcher <kind>', 'how the client starts warden: node (this installation, absolute paths) or warden (on PATH)', 'node')
    .option('--name <name>', 'name of the gateway entry in the client config (default warden)')
    .option('--token-file <file>', "warden connect: the agent's bearer token file")
    .option('--token-url <url>', 'warden connect: OAuth token endpoint (client credentials)')
    .option('--client-id <id>', "warden connect: the agent's client id")
    .option('--client-secret-file <file>', 'warden connect: the client secret file')
    .option('--private-key <file>', 'warden connect: private key for private_key_jwt')
    .option('--key-id <kid>', 'warden connect: kid of the private key')
    .option('--scope <scopes>', 'warden connect: scopes to request')
    .option('--dry-run', 'print what would change (a diff, secrets redacted) and write nothing')
    .option('--json', 'the report as JSON')
    .action((file: string, opts) => exit(migrateCommand(file, opts, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() })));
  program.command('review').description("a deployment's readiness for production from its config, policy, store and audit; each finding with its fix")
    .option('-c, --config <file>', 'config file', 'warden.yaml')
    .option('--format <format>', 'markdown or json', 'markdown')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--fail-on <severity>', 'exit 1 when a finding is at or above: info, low, medium, high or critical')
    .option('--unused-days <n>', 'report agents with no request for this many days', '30')
    .option('--max-secret-age-days <n>', 'report upstream secrets not rotated for this many days', '90')
    .action((opts) => exit(reviewCommand(opts, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() })));
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

/** Runs the command line and sets the exit code; an error is one line on stderr (commander has printed its own). */
export async function run(argv: string[]): Promise<void> {
  try {
    await main(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) process.stderr.write(`warden: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = exitCodeOf(err);
  }
}
