/**
 * `warden init`: a starting point that works: a commented config, the starter policy pack and its tests.
 * Nothing is overwritten without --force, and nothing is written when any file would be refused. The pack
 * is read from the package (`policies/starter/`), next to `src/` and `dist/` alike.
 * Exit codes: 0 written, 1 a file exists (or cannot be written), 2 bad usage.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { installedServerEntry, REFERENCE_SERVERS } from './reference-servers.js';
import { writeMasterKeyFile } from './master-key.js';

export interface InitOptions {
  dir?: string;
  force?: boolean;
}

export interface InitIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Where init puts its development master key, relative to the config (the store's own folder). */
const DEV_KEY = join('.warden', 'master.key');

const pack = (name: string): string => readFileSync(new URL(`../../policies/starter/${name}`, import.meta.url), 'utf8');

/** The config `init` writes; `filesServer` is the YAML of the files server's command and args (see filesServerLines). */
export const configTemplate = (filesServer: string): string => `# mcp-warden configuration, written by \`warden init\`. Relative paths are relative to this file.
# Check it with \`warden policy validate\` and run it with \`warden serve -c warden.yaml\`.

# Where the gateway listens for MCP clients (Streamable HTTP at http://127.0.0.1:7400/mcp).
listen: 127.0.0.1:7400

# How clients authenticate. \`mode: none\` is for local development only: it is accepted on a loopback
# address alone, and every caller is the agent "anonymous" (given a tenant under \`agents\` below).
# For real use, trust your identity provider's tokens instead:
# auth:
#   issuers:
#     - issuer: https://idp.example.com
#       jwksUri: https://idp.example.com/.well-known/jwks.json
#       tenantClaim: tenant        # the claim naming the caller's tenant
#   requiredScopes: [mcp]
auth:
  mode: none

# Registered agents by id (OAuth client id or SPIFFE ID): tenant, owner and groups are what policies read.
# Each belongs to one issuer: with a single issuer that is the default; with several, name it per agent
# (issuer: https://idp.example.com), so no other issuer's token can act as it.
agents:
  anonymous:
    description: every caller while auth.mode is none
    tenant: acme

# Cedar policies: every *.cedar file in policies/. Deny by default: without a permit, nothing is allowed.
# Test them with \`warden policy test policies/starter.test.yaml\`; see the schema with \`warden policy schema\`.
policy:
  files: [policies]

# The vault master key: the store keeps the gateway's signing keys (tokens, audit checkpoints) and vault
# secrets sealed under it, so the gateway needs one to start. \`warden init\` made this one for development
# (mode 600). For production, give a key from your secret manager in WARDEN_MASTER_KEY or a mounted file,
# and keep a copy apart from the store's backups: without it, what the store sealed cannot be opened.
vault:
  masterKeyFile: .warden/master.key

# Who approves the calls a policy marks @approval (under the starter pack: destructive tools in prod).
# Without approvers those calls are refused; decide with \`warden approvals\`, the admin API, or the page.
# Approvers see each held call in full, kept encrypted under the vault master key until decided.
# approvals:
#   approvers: [alice]
#   holdSeconds: 120
#   prompt: url                # ask the person at the client to open the approval page (URL elicitation)
#   page:                      # <origin>/approvals/<id>: approvers sign in with OpenID Connect and decide
#     signIn: { issuer: https://idp.example.com, clientId: warden-approvals }   # secret: WARDEN_APPROVAL_PAGE_SECRET

# The MCP servers behind the gateway, in the mcpServers shape desktop apps and IDEs use.
mcpServers:
  files:
${filesServer}
    environment: dev          # prod (the default), staging, dev or sandbox: policies read resource.environment
    tenant: acme              # whose server this is; unset means shared
    trustAnnotations: true    # believe the server's readOnlyHint/destructiveHint; unset: every tool is a destructive write
    tools:                    # classification overrides by tool name glob, applied over the annotations
      "move_file": { destructive: true, risk: high }
`;

/**
 * The files server's command: the filesystem server installed with mcp-warden, run with this Node (nothing
 * is downloaded at start); `npx -y` only where it is not installed. `./data` is relative to the config file.
 */
export function filesServerLines(entry = installedServerEntry(REFERENCE_SERVERS.filesystem)): string {
  // JSON strings are YAML strings: paths with spaces or colons stay intact.
  const lines = (command: string, args: string[]) => [`    command: ${JSON.stringify(command)}`, `    args: [${args.map((x) => JSON.stringify(x)).join(', ')}]`];
  if (entry === undefined) return lines('npx', ['-y', REFERENCE_SERVERS.filesystem, './data']).join('\n');
  return [
    '    # The filesystem server installed with mcp-warden, run with the Node that ran `warden init`. Elsewhere:',
    '    #   command: npx',
    `    #   args: [-y, "${REFERENCE_SERVERS.filesystem}", ./data]`,
    ...lines(process.execPath, [entry, './data']),
  ].join('\n');
}

/** Writes the config and the starter pack into `dir`; returns the exit code. */
export function init(opts: InitOptions, io: InitIo = { stdout: process.stdout, stderr: process.stderr }): number {
  const dir = resolve(opts.dir ?? '.');
  const files: Array<[string, string]> = [
    ['warden.yaml', configTemplate(filesServerLines())],
    [join('policies', 'starter.cedar'), pack('starter.cedar')],
    [join('policies', 'starter.test.yaml'), pack('starter.test.yaml')],
  ];
  const shown = (name: string): string => relative(process.cwd(), join(dir, name)) || name;
  if (!opts.force) {
    const existing = files.filter(([name]) => existsSync(join(dir, name)));
    if (existing.length > 0) {
      for (const [name] of existing) io.stderr.write(`warden init: ${shown(name)} already exists; not overwriting it (use --force)\n`);
      return 1;
    }
  }
  const hadData = existsSync(join(dir, 'data'));
  try {
    mkdirSync(join(dir, 'policies'), { recursive: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    // `wx` refuses a file that appeared since the check; --force replaces.
    for (const [name, text] of files) writeFileSync(join(dir, name), text, { flag: opts.force ? 'w' : 'wx' });
    // A development master key, kept when there is one (even with --force: what it sealed must stay readable).
    if (!existsSync(join(dir, DEV_KEY))) {
      writeMasterKeyFile(join(dir, DEV_KEY));
      io.stdout.write(`wrote ${shown(DEV_KEY)} (a development vault master key, mode 600)\n`);
    }
  } catch (err) {
    io.stderr.write(`warden init: cannot write in ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})\n`);
    return 1;
  }
  for (const [name] of files) io.stdout.write(`wrote ${shown(name)}\n`);
  if (!hadData) io.stdout.write(`created ${shown('data')}/ (the directory the filesystem server serves)\n`);
  const cd = dir === process.cwd() ? '' : `  cd ${relative(process.cwd(), dir) || dir}\n`;
  const next: Array<[string, string]> = [
    ['warden policy test policies/starter.test.yaml', 'the starter policies pass their tests'],
    ['warden policy validate', 'every policy, checked against the schema'],
    ['warden serve -c warden.yaml', 'the gateway, in front of the filesystem server on ./data'],
  ];
  io.stdout.write(`\nNext:\n${cd}${next.map(([cmd, why]) => `  ${cmd.padEnd(47)}  # ${why}\n`).join('')}`);
  return 0;
}
