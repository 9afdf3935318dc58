/**
 * A loopback feed that behaves like a remote one: test/helpers/static-feed.ts (the machine's package store as a
 * nuget.org-shaped V3 feed) with the three costs a client pays to a feed across the internet injected in front of
 * every answer:
 *
 * - **per request**: `latencyMs` before the response headers (a round trip plus the server's time to first byte);
 * - **per new connection**: `connectMs` before the first answer on a fresh socket (TCP + TLS set-up: 2–3 round
 *   trips). The TCP connect itself completes at once on loopback, so the delay is charged to the first request the
 *   socket carries, which is where a client feels it;
 * - **a limited accept rate**: at most `acceptRate` new connections a second, with bursts of `acceptBurst`
 *   (a token bucket); a connection beyond that waits, in order, for its turn (a full accept queue, a rate-limiting
 *   load balancer, the connect stalls the issue saw when a client opens many connections at once).
 *
 * Everything is done in the feed's `onRequest` hook, so the feed's URLs stay its own and no TCP proxy is needed.
 * It counts what clients did to it (new connections, the most open at once, requests), so the bench can show how
 * hard nugate and the direct client hit the upstream.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { startStaticFeed, type StaticFeed } from '../../test/helpers/static-feed.ts';

export interface RemoteProfile {
  /** Before the response headers of every request. */
  latencyMs: number;
  /** Before the first response on a new connection (on top of `latencyMs`). */
  connectMs: number;
  /** New connections admitted per second; 0 = unlimited. */
  acceptRate: number;
  /** New connections admitted at once before the rate applies. */
  acceptBurst: number;
}

/**
 * 40 ms a request and 60 ms a connection: a feed a continent away over TLS. 10 new connections a second after a
 * burst of 8: a client that reuses a handful of connections (the dotnet client opens about 5 for this project) never
 * waits, one that opens a burst of 16+ waits for the later ones, as bursts stalled in front of the real registry.
 */
export const DEFAULT_PROFILE: RemoteProfile = { latencyMs: 40, connectMs: 60, acceptRate: 10, acceptBurst: 8 };

export function describeProfile(p: RemoteProfile): string {
  const rate = p.acceptRate > 0 ? `at most ${p.acceptRate} new connections/s (bursts of ${p.acceptBurst}, the rest queued)` : 'no accept-rate limit';
  return `${p.latencyMs} ms before every response, ${p.connectMs} ms more on a new connection, ${rate}`;
}

export interface FeedStats {
  /** Connections that carried at least one request. */
  connections: number;
  /** Most connections open at the same time. */
  peakConnections: number;
  requests: number;
  /** Total time new connections waited for the accept rate (ms). */
  queuedMs: number;
}

export interface RemoteFeed {
  feed: StaticFeed;
  indexUrl: string;
  profile: RemoteProfile;
  /** Counts since the last reset. */
  stats(): FeedStats;
  resetStats(): void;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** Token bucket with reservations: tokens may go negative, and each caller waits until its own token exists (FIFO). */
function acceptLimiter(rate: number, burst: number, now: () => number = () => performance.now()): () => number {
  let tokens = burst;
  let at = now();
  return () => {
    if (rate <= 0) return 0;
    const t = now();
    tokens = Math.min(burst, tokens + ((t - at) / 1000) * rate);
    at = t;
    tokens -= 1;
    return tokens >= 0 ? 0 : (-tokens / rate) * 1000;
  };
}

export async function startRemoteFeed(profile: RemoteProfile = DEFAULT_PROFILE): Promise<RemoteFeed> {
  const reserve = acceptLimiter(profile.acceptRate, Math.max(1, profile.acceptBurst));
  /** Per socket: resolves when its set-up (queue + connect delay) is over. */
  const setUp = new WeakMap<Socket, Promise<void>>();
  // Connections count in the epoch they were opened in, so a reset starts the peak from what the next client opens
  // (a warm nugate's idle keep-alive sockets from earlier rounds are not the next restore's doing).
  let epoch = 0;
  let open = 0;
  let stats: FeedStats = { connections: 0, peakConnections: 0, requests: 0, queuedMs: 0 };

  const onRequest = async (req: IncomingMessage): Promise<boolean> => {
    stats.requests++;
    const socket = req.socket;
    let ready = setUp.get(socket);
    if (ready === undefined) {
      stats.connections++;
      open++;
      stats.peakConnections = Math.max(stats.peakConnections, open);
      const openedIn = epoch;
      socket.once('close', () => {
        if (openedIn === epoch) open--;
      });
      const queued = reserve();
      stats.queuedMs += queued;
      ready = sleep(queued + profile.connectMs);
      setUp.set(socket, ready);
    }
    await ready;
    await sleep(profile.latencyMs);
    // false: the static feed answers as usual, now that the delays are paid.
    return false;
  };

  const feed = await startStaticFeed({ onRequest });
  return {
    feed,
    indexUrl: feed.indexUrl,
    profile,
    stats: () => ({ ...stats }),
    resetStats() {
      epoch++;
      open = 0;
      stats = { connections: 0, peakConnections: 0, requests: 0, queuedMs: 0 };
      feed.resetRequests();
    },
    close: () => feed.close(),
  };
}
