/**
 * `warden serve [-c FILE]` (default ./warden.yaml): runs the gateway until SIGINT or SIGTERM. SIGHUP reloads
 * the config: policies, agents and upstreams change in place; what needs a restart is logged (reload.ts).
 * SIGTERM (and SIGINT) drain first: readiness turns 503, the listener closes, calls in flight run to their end
 * for up to shutdown.drainSeconds and are recorded with their true outcome; a second signal stops at once.
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
  if (running.metricsUrl) process.stdout.write(`warden: metrics, /readyz and /livez on ${new URL('/', running.metricsUrl).href}\n`);
  void reportStartup(running.gateway, config, log);
  const reload = () => void running.reload();
  process.on('SIGHUP', reload);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.off('SIGHUP', reload);
  const drainMs = config.shutdown.drainSeconds * 1000;
  log.info({ signal, drainSeconds: config.shutdown.drainSeconds }, 'draining: readiness is 503, no new connections; calls in flight may finish');
  const again = new Promise<number>((resolve) => {
    const now = () => resolve(-1);
    process.once('SIGINT', now);
    process.once('SIGTERM', now);
  });
  const left = await Promise.race([running.drain(drainMs), again]);
  if (left !== 0) log.warn({ left: left < 0 ? 'unknown (second signal)' : left }, 'drain ended with calls still in flight: they are cut and recorded as cancelled');
  await running.close();
}
