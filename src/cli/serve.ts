/**
 * `warden serve [-c FILE]` (default ./warden.yaml): runs the gateway until SIGINT or SIGTERM. SIGHUP reloads
 * the config: policies, agents and upstreams change in place; what needs a restart is logged (reload.ts).
 */
import { loadConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { startGateway } from './start-gateway.js';
import { reportStartup } from './startup-report.js';

export async function serve(opts: { config: string }): Promise<void> {
  const { config, baseDir, file } = loadConfig(opts.config);
  const log = createLogger(process.env.WARDEN_LOG_LEVEL ?? config.log.level);
  const running = await startGateway(config, baseDir, log, file);
  const upstreams = Object.keys(config.mcpServers).join(', ') || '(none)';
  process.stdout.write(`warden: listening on ${running.url} (config ${file}; store ${running.store.location}; upstreams: ${upstreams})\n`);
  void reportStartup(running.gateway, config, log);
  const reload = () => void running.reload();
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.off('SIGHUP', reload);
  await running.close();
}
