/**
 * `warden policy replay [--since 7d] [--limit N] [--json] -c warden.yaml FILES_OR_DIR...`: the impact of a
 * candidate policy set. The audited calls of the period are decided again by the policy in force and by the
 * candidate (src/console/replay.ts, which the console's Policies page uses too); every decision that would
 * change is listed. Reads the store, writes nothing. Exit codes: 0 done (changes or not), 1 the candidate
 * does not load, 2 bad usage or config.
 */
import { replayPolicy, tasksOf } from '../console/index.js';
import { printable } from '../core/printable.js';
import { formatProblem, loadPolicyFiles, PolicyLoadError } from '../policy/index.js';
import { parseSince } from './audit-trace.js';
import { withConfiguredStore } from './configured-store.js';
import { UsageError } from './exit.js';
import { policyOf } from './review.js';

export interface ReplayOptions {
  config: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

export interface ReplayIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function policyReplay(files: string[], opts: ReplayOptions, io: ReplayIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    if (files.length === 0) throw new UsageError('name the candidate policy files or directory');
    const limit = Number(opts.limit ?? 10_000);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) throw new UsageError('--limit must be a whole number from 1 to 1000000');
    const since = parseSince(opts.since ?? '7d', Date.now());
    return await withConfiguredStore(opts.config, async (store, { config, baseDir }) => {
      const current = policyOf(config, baseDir);
      if ('error' in current) throw new UsageError(`the policy in force does not load: ${current.error}`);
      let candidate;
      try {
        candidate = loadPolicyFiles({ files, baseDir: process.cwd(), arguments: config.policy?.arguments, pathArguments: config.policy?.pathArguments });
      } catch (err) {
        if (!(err instanceof PolicyLoadError)) throw err;
        io.stderr.write(`warden policy replay: the candidate policy set does not load (${err.code}):\n${err.problems.map((p) => `${formatProblem(p)}\n`).join('')}`);
        return 1;
      }
      const events = await store.audit.trace({ since, limit });
      const r = replayPolicy(config, events, current, candidate, await tasksOf(events, (id) => store.tasks.get(id)));
      if (opts.json) {
        for (const c of r.changes) {
          const e = c.event;
          io.stdout.write(JSON.stringify({ id: e.id, time: e.time, agent: e.agent, user: e.user, task: e.task ?? null, tool: c.tool, recorded: e.decision?.effect ?? null, faithful: c.faithful, current: c.current, candidate: c.candidate }) + '\n');
        }
        io.stdout.write(JSON.stringify({ summary: { replayed: r.replayed, skipped: r.skipped, changed: r.changes.length, matchesRecord: r.matchesRecord, unfaithful: r.unfaithful, currentVersion: r.currentVersion, candidateVersion: r.candidateVersion, since } }) + '\n');
        return 0;
      }
      for (const c of r.changes) {
        const e = c.event;
        const ids = (d: { policyIds: string[] }) => (d.policyIds.length ? ` (${d.policyIds.join(', ')})` : '');
        // Agent, user and tool are a token's and a client's words: printable, so they cannot forge a line or drive the terminal.
        const line = `${e.time} ${e.agent ?? '-'} for ${e.user ?? '-'} ${c.tool}: ${c.current.effect}${ids(c.current)} -> ${c.candidate.effect}${ids(c.candidate)}: ${c.candidate.reason}${c.faithful ? '' : ' (approximate)'}`;
        io.stdout.write(`${printable(line)}\n`);
      }
      const denied = r.changes.filter((c) => c.candidate.effect === 'deny').length;
      io.stdout.write(
        `replayed ${r.replayed} calls since ${since} (${r.skipped} skipped); ${r.changes.length} decisions would change, ${denied} to deny; ` +
          `${r.matchesRecord} of ${r.replayed} re-decide as recorded under the policy in force ${r.currentVersion} (the others lack what the audit does not keep, such as token scopes: their changes are approximate); candidate ${r.candidateVersion}\n`,
      );
      return 0;
    });
  } catch (err) {
    io.stderr.write(`warden policy replay: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError || (err as { name?: string }).name === 'ConfigError' ? 2 : 1;
  }
}
