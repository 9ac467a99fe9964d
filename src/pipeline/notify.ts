// Notify, the last stage of `asof run`: a JSON summary POSTed to a webhook and/or written to a
// command's standard input. A failure is returned (and reported by the caller), never dropped;
// it cannot undo the load, which already happened.

import { spawn } from 'node:child_process';

export interface NotifyResult {
  target: string;
  ok: boolean;
  error?: string;
}

export interface NotifyTargets {
  webhook?: string;
  command?: string;
}

async function postWebhook(url: string, body: string, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
}

function runCommand(command: string, body: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `exited with ${signal ?? `code ${code}`}${stderr.trim() ? `: ${stderr.trim().slice(0, 300)}` : ''}`,
          ),
        );
    });
    // A command that does not read its input must not fail the notify with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(body);
  });
}

/** Sends `summary` to every target; each result says whether it arrived. */
export async function notify(
  targets: NotifyTargets | undefined,
  summary: unknown,
  timeoutMs = 10_000,
): Promise<NotifyResult[]> {
  const body = `${JSON.stringify(summary)}\n`;
  const out: NotifyResult[] = [];
  const attempt = async (target: string, send: () => Promise<void>) => {
    try {
      await send();
      out.push({ target, ok: true });
    } catch (e) {
      out.push({ target, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  };
  if (targets?.webhook) {
    const url = targets.webhook;
    await attempt(`webhook ${url}`, () => postWebhook(url, body, timeoutMs));
  }
  if (targets?.command) {
    const cmd = targets.command;
    await attempt(`command ${cmd}`, () => runCommand(cmd, body, timeoutMs * 6));
  }
  return out;
}
