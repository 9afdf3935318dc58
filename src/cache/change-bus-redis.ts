/**
 * The change bus over Redis pub/sub (change-bus.ts), for instances on several hosts (and their workers) sharing one
 * Redis. Channel `<prefix>:changes` carries `{ from, seq, event }`; every process subscribes on a connection of its
 * own and answers on `<prefix>:changes:acks` once it has applied a change. PUBLISH tells the publisher how many
 * subscribers received the message, so it knows how many acknowledgements to wait for.
 *
 * A subscriber that lost its connection may have missed changes: when it is back it raises `resync` locally and
 * drops everything it holds in memory (the shared store stays the source of truth).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ACK_TIMEOUT_MS, ChangeHandlers, type ChangeBus, type ChangeEvent } from './change-bus.ts';
import type { RedisLink } from './meta-redis.ts';

interface Envelope {
  from: string;
  seq: number;
  event: ChangeEvent;
}

interface Ack {
  to: string;
  seq: number;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isEnvelope(v: unknown): v is Envelope {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  const e = m.event as Record<string, unknown> | null | undefined;
  return typeof m.from === 'string' && typeof m.seq === 'number' && typeof e === 'object' && e !== null && ((e.type === 'id' && typeof e.id === 'string') || e.type === 'resync');
}

function isAck(v: unknown): v is Ack {
  const m = v as Record<string, unknown> | null;
  return typeof v === 'object' && m !== null && typeof m.to === 'string' && typeof m.seq === 'number';
}

export function redisBus(link: RedisLink, log: Logger, ackTimeoutMs = ACK_TIMEOUT_MS): ChangeBus {
  const handlers = new ChangeHandlers(log);
  const self = randomBytes(8).toString('hex');
  const channel = `${link.prefix}:changes`;
  const ackChannel = `${link.prefix}:changes:acks`;
  /** seq → [acks still expected, resolve]. */
  const pending = new Map<number, { left: number; done: () => void }>();
  let seq = 0;
  let subscribed = false;
  let everReady = false;
  let closed = false;

  const sub = link.client.duplicate();
  sub.on('error', () => undefined); // reconnects on its own; a missed change is handled by `resync`

  const onChange = (text: string): void => {
    const msg = parse(text);
    if (!isEnvelope(msg) || msg.from === self) return;
    void handlers.apply(msg.event).finally(() => {
      const ack: Ack = { to: msg.from, seq: msg.seq };
      void link.run('ack', (c) => c.publish(ackChannel, JSON.stringify(ack))).catch(() => undefined);
    });
  };
  const onAck = (text: string): void => {
    const msg = parse(text);
    if (!isAck(msg) || msg.to !== self) return;
    const entry = pending.get(msg.seq);
    if (entry === undefined) return;
    entry.left--;
    if (entry.left <= 0) entry.done();
  };

  sub.on('ready', () => {
    // The client subscribes again by itself after a reconnect; what was published meanwhile is lost.
    if (everReady) void handlers.apply({ type: 'resync' });
    everReady = true;
  });
  void (async () => {
    await sub.connect();
    // connect() also resolves when close() destroyed the connection meanwhile.
    if (closed || !sub.isReady) return;
    await sub.subscribe(channel, onChange);
    await sub.subscribe(ackChannel, onAck);
    subscribed = true;
  })().catch((err: unknown) => {
    if (!closed) log.warn({ err }, 'cannot subscribe to cache changes in Redis; this instance learns of changes by their TTLs until it can');
  });

  return {
    kind: 'redis',
    async publish(event) {
      const mine = ++seq;
      const message = JSON.stringify({ from: self, seq: mine, event } satisfies Envelope);
      let receivers: number;
      try {
        receivers = await link.run('publish', (c) => c.publish(channel, message));
      } catch (err) {
        log.warn({ err, event }, 'cannot tell other instances about a change (Redis unavailable); they resync when it is back');
        return;
      }
      const expected = receivers - (subscribed ? 1 : 0);
      if (expected <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(mine);
          log.warn({ event, timeoutMs: ackTimeoutMs }, 'other instances did not confirm a change in time');
          resolve();
        }, ackTimeoutMs);
        pending.set(mine, {
          left: expected,
          done: () => {
            clearTimeout(timer);
            pending.delete(mine);
            resolve();
          },
        });
      });
    },
    onChange: (h) => handlers.add(h),
    async close() {
      closed = true;
      for (const entry of [...pending.values()]) entry.done();
      // Not waiting for `subscribing`: with Redis down it is still connecting, and would be forever.
      if (sub.isReady) await sub.close().catch(() => undefined);
      else if (sub.isOpen) sub.destroy();
    },
  };
}
