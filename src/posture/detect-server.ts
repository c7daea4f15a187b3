/**
 * The per-server rules besides secrets: long-lived JWTs, remote servers over plain HTTP or without a
 * credential, unpinned packages, over-broad filesystem roots, privileged containers, auto-approved tools.
 * Each returns hits with the place, the severity there, and a sentence of detail that holds no value.
 */
import type { SecretHit } from './detect-secrets.js';
import { launchOf, unpinnedReason, type Launch } from './launch.js';
import type { Position, ServerEntry, Severity, Slot } from './model.js';
import type { ScanRuleId } from './scan-rules.js';
import { isLocalHost, isSecretName, literalText, safeUrl } from './values.js';

export interface Hit {
  rule: ScanRuleId;
  severity: Severity;
  pointer: string;
  position: Position;
  detail: string;
  /** Extra text for the finding id, to keep two hits at one place apart. */
  key?: string;
}

const DAY = 86_400;
export const MAX_TOKEN_DAYS = 90;

/** The payload of a JWT, without verifying anything (only its dates are read). */
function jwtClaims(token: string): { exp?: number; iat?: number } | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    return {
      ...(typeof claims.exp === 'number' ? { exp: claims.exp } : {}),
      ...(typeof claims.iat === 'number' ? { iat: claims.iat } : {}),
    };
  } catch {
    return undefined;
  }
}

/** JWTs among the found secrets: no expiry, a lifetime over 90 days, or already expired (a dead credential still configured). */
export function longLivedTokens(hits: SecretHit[], now: Date): Hit[] {
  const out: Hit[] = [];
  for (const h of hits) {
    for (const secret of h.secrets) {
      const jwt = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/.exec(secret)?.[0];
      const claims = jwt === undefined ? undefined : jwtClaims(jwt);
      if (claims === undefined) continue;
      const at = { pointer: h.slot.pointer, position: h.slot.position };
      const nowS = Math.floor(now.getTime() / 1000);
      if (claims.exp === undefined)
        out.push({
          rule: 'long-lived-token',
          severity: 'high',
          ...at,
          detail: 'a JWT without an expiry (exp): it never stops working',
        });
      else if (claims.exp < nowS)
        out.push({
          rule: 'long-lived-token',
          severity: 'low',
          ...at,
          detail: `a JWT that expired on ${new Date(claims.exp * 1000).toISOString().slice(0, 10)} is still configured`,
        });
      else {
        const days = Math.round((claims.exp - (claims.iat ?? nowS)) / DAY);
        if (days > MAX_TOKEN_DAYS)
          out.push({
            rule: 'long-lived-token',
            severity: 'medium',
            ...at,
            detail: `a JWT valid for ${days} days (until ${new Date(claims.exp * 1000).toISOString().slice(0, 10)}), more than ${MAX_TOKEN_DAYS}`,
          });
      }
    }
  }
  return out;
}

const slotAt = (s: Slot) => ({ pointer: s.pointer, position: s.position });
const argSlot = (server: ServerEntry, index: number): Slot | undefined =>
  server.slots.find((s) => s.kind === 'arg' && s.name === String(index));
const PROXIES = new Set(['mcp-remote', 'supergateway', '@modelcontextprotocol/mcp-remote']);

/** The remote endpoint of a server: its URL, or the URL a stdio proxy (mcp-remote, supergateway) connects to. */
function remoteOf(server: ServerEntry, launch: Launch | undefined): { url: string; slot: Slot } | undefined {
  const urlSlot = server.slots.find((s) => s.kind === 'url');
  if (server.url !== undefined && urlSlot) return { url: server.url, slot: urlSlot };
  const proxied = launch?.packages.some((p) =>
    PROXIES.has(p.spec.replace(/@[^@/]*$/, '').replace(/^(@[^/]+\/[^@]+)@.*$/, '$1')),
  );
  if (!proxied) return undefined;
  const arg = launch!.rest.find((r) => /^https?:\/\//i.test(r.value));
  const slot = arg && argSlot(server, arg.index);
  return arg && slot ? { url: arg.value, slot } : undefined;
}

/** Whether the server is given any credential: an auth header (even a reference), a key in the URL, a client-supplied token. */
function hasCredential(server: ServerEntry, url: string, secrets: SecretHit[]): boolean {
  if (server.externalAuth || secrets.length > 0) return true;
  if (Object.keys(server.headers).some((h) => h.toLowerCase() === 'authorization' || isSecretName(h))) return true;
  if (
    server.args.some(
      (a, i) => /^(--header|-H)$/.test(server.args[i - 1] ?? '') && /^\s*(authorization|[^:]*(key|token))\s*:/i.test(a),
    )
  )
    return true;
  try {
    const u = new URL(literalText(url).trim() || url);
    if (u.password !== '' || [...u.searchParams.keys()].some(isSecretName)) return true;
  } catch {
    return false;
  }
  return /\$\{[^}]*\}/.test(url) && !/^https?:\/\/\$\{/.test(url);
}

/** `viaGateway`: the entry is the gateway itself, which authenticates its callers (OAuth, negotiated by the client). */
export function transportHits(server: ServerEntry, secrets: SecretHit[], viaGateway = false): Hit[] {
  if (server.disabled) return [];
  const remote = remoteOf(server, launchOf(server));
  if (!remote) return [];
  let u: URL;
  try {
    u = new URL(remote.url);
  } catch {
    return [];
  }
  if (isLocalHost(u.hostname)) return [];
  const out: Hit[] = [];
  const plain = u.protocol === 'http:' || u.protocol === 'ws:';
  const credential = hasCredential(server, remote.url, secrets);
  if (plain) {
    const detail = `${safeUrl(remote.url)} is reached without TLS${credential ? ', and the credential for it travels in clear' : ''}`;
    out.push({ rule: 'plain-http-remote', severity: credential ? 'high' : 'medium', ...slotAt(remote.slot), detail });
  }
  if (!credential && !viaGateway) {
    out.push({
      rule: 'remote-no-auth',
      severity: plain ? 'medium' : 'low',
      ...slotAt(remote.slot),
      detail: `no credential is configured for ${safeUrl(remote.url)}`,
    });
  }
  return out;
}

export function unpinnedHits(server: ServerEntry): Hit[] {
  if (server.disabled) return [];
  const launch = launchOf(server);
  return (launch?.packages ?? []).flatMap((p) => {
    const why = unpinnedReason(p);
    const slot = argSlot(server, p.argIndex);
    if (why === undefined || slot === undefined) return [];
    const what =
      p.ecosystem === 'oci' ? 'a container image' : p.ecosystem === 'npm' ? 'an npm package' : 'a PyPI package';
    return [
      {
        rule: 'unpinned-package' as const,
        severity: 'medium' as const,
        ...slotAt(slot),
        detail: `${launch!.runner} starts ${what} with ${why}`,
      },
    ];
  });
}

/** `/`, a drive root, a home directory or the folder of all homes, however it is written. */
export function isBroadRoot(path: string, home?: string): boolean {
  const p = path.trim().replace(/^["']|["']$/g, '');
  const homes = [
    '~',
    '$HOME',
    '${HOME}',
    '${userHome}',
    '${env:HOME}',
    '${env:USERPROFILE}',
    '%USERPROFILE%',
    '%HOMEPATH%',
    '${workspaceFolder}/..',
  ];
  const trimmed = p.length > 1 ? p.replace(/[\\/]+$/, '') : p;
  if (trimmed === '/' || trimmed === '' || homes.includes(trimmed)) return true;
  if (home !== undefined && trimmed === home.replace(/[\\/]+$/, '')) return true;
  if (/^[A-Za-z]:$/.test(trimmed) || /^[A-Za-z]:[\\/]?$/.test(p)) return true;
  return (
    /^\/(home|Users)(\/[^/]+)?$/.test(trimmed) ||
    trimmed === '/root' ||
    /^[A-Za-z]:[\\/]Users([\\/][^\\/]+)?$/i.test(trimmed)
  );
}

const SENSITIVE_MOUNT =
  /(docker\.sock$|^\/(etc|proc|sys|dev|boot|var\/lib\/docker)([\\/]|$)|[\\/]\.(ssh|aws|kube|gnupg|docker|azure)([\\/]|$)|[\\/]\.config[\\/]gcloud)/;

export function reachHits(server: ServerEntry, home?: string): Hit[] {
  if (server.disabled) return [];
  const launch = launchOf(server);
  const out: Hit[] = [];
  if (launch?.container) {
    for (const f of launch.container.flags) {
      const slot = argSlot(server, f.valueIndex ?? f.argIndex);
      if (!slot) continue;
      const v = (f.value ?? '').toLowerCase();
      let detail: string | undefined;
      let severity: Severity = 'high';
      if (f.name === '--privileged' && f.value !== 'false')
        [detail, severity] = ['runs --privileged: full access to the host devices and kernel', 'critical'];
      else if (f.name === '--cap-add' && /^(all|sys_admin|sys_ptrace|sys_module|net_admin|dac_read_search)$/.test(v))
        detail = `adds the ${v.toUpperCase()} capability`;
      else if (['--pid', '--network', '--net', '--ipc', '--userns', '--uts'].includes(f.name) && v === 'host')
        detail = `shares the host's ${f.name.slice(2)} namespace`;
      else if (f.name === '--security-opt' && /unconfined|label[:=]disable/.test(v))
        detail = 'turns off a kernel confinement (seccomp, AppArmor or SELinux)';
      else if (f.name === '--device') detail = 'passes a host device into the container';
      else if (['-v', '--volume', '--mount'].includes(f.name)) {
        const source =
          f.name === '--mount'
            ? /(?:^|,)(?:source|src)=([^,]+)/.exec(f.value ?? '')?.[1]
            : /^([A-Za-z]:[\\/][^:]*|[^:]*)/.exec(f.value ?? '')?.[1];
        if (source !== undefined && (isBroadRoot(source, home) || SENSITIVE_MOUNT.test(source))) {
          detail = `mounts a sensitive host path (${/docker\.sock/.test(source) ? 'the Docker socket' : isBroadRoot(source, home) ? 'a root or home directory' : 'a system or credential folder'})`;
          if (/docker\.sock/.test(source) || source.replace(/[\\/]+$/, '') === '') severity = 'critical';
        }
      }
      if (detail)
        out.push({ rule: 'privileged-container', severity, ...slotAt(slot), detail, key: `${f.name}@${f.argIndex}` });
    }
    return out;
  }
  server.args.forEach((a, i) => {
    const value = /^--?[\w-]+=(.*)$/.exec(a)?.[1] ?? a;
    const slot = argSlot(server, i);
    if (slot && isBroadRoot(value, home) && !(launch && launch.packages.some((p) => p.argIndex === i))) {
      const root =
        value.trim().replace(/[\\/]+$/, '') === '' ? 'the whole file system (/)' : 'a root or home directory';
      out.push({
        rule: 'broad-filesystem-root',
        severity: root.startsWith('the whole') ? 'critical' : 'high',
        ...slotAt(slot),
        detail: `is given ${root} as a path`,
      });
    }
  });
  return out;
}

export function autoApproveHits(server: ServerEntry): Hit[] {
  const a = server.autoApprove;
  if (!a || server.disabled) return [];
  const detail =
    a.what === 'trust'
      ? 'trust: true makes the client skip every tool-call confirmation for this server'
      : `${a.what} lets the client run listed tools without asking`;
  return [{ rule: 'tool-approval-bypassed', severity: 'medium', pointer: a.pointer, position: a.position, detail }];
}
