/** The `warden` command line. One file per command; this one only wires them. */
import { Command } from 'commander';
import { auditTail } from './audit.js';
import { demo } from './demo.js';
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
  const audit = program.command('audit').description('read the audit log');
  audit
    .command('tail')
    .description('print the newest audit events')
    .option('-c, --config <file>', 'config file naming the store', 'warden.yaml')
    .option('--json', 'one JSON object per line')
    .option('-n, --limit <n>', 'how many events', '20')
    .action(auditTail);
  await program.parseAsync(argv);
}
