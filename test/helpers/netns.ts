// Herald nodes on their own network, so that one link can fail while every process stays up.
// Each node gets a network namespace `herald-<rand>-n<i>` joined to the root namespace by a
// veth pair (10.<x>.<i>.1/30 on the host side, .2/30 in the namespace). PostgreSQL, RabbitMQ
// and nginx stay in the root namespace, on loopback as scripts/services/up.sh starts them.
//
// How a node reaches PostgreSQL and RabbitMQ: through a relay, a TCP forwarder in the test
// process listening on the host side of the node's veth (10.<x>.<i>.1) and connecting to the
// service on 127.0.0.1. It is the simplest robust choice: the shared services keep listening
// on loopback only (up.sh is used by every test), no second PostgreSQL or RabbitMQ is started,
// and no DNAT to loopback (route_localnet) is needed. What fails is the node's side: a cut
// drops the node's packets on its veth, so its connections see what a real partition shows
// (a connect that gets no SYN-ACK, queries that get no answer), while the relay's own
// connection to the service stays open, as the server's end of a partitioned connection
// does until its timeouts end it.
//
// This kernel (and CI's, the same kind of machine) has no netem, no gact (tc's `drop`) and
// no iptables command; iproute2 is all there is. So, with tc alone:
// - a cut is a u32 filter on the node's veth (clsact, egress and ingress) matching the
//   link's TCP port, whose action redirects the packet to an ifb device that is kept down:
//   mirred then drops it (TC_ACT_SHOT), silently, as `iptables -j DROP` would;
// - loss is a classic BPF filter reading the kernel's random number (SKF_AD_RANDOM), with
//   the same drop;
// - latency is added by the relays (`delay()`): each chunk of each direction waits
//   mean ± jitter ms, in order (TCP would reorder packets back anyway).
// Everything made here is removed by `remove()`, which the caller registers for the end of
// the test whatever happens; `ip netns list` is checked before and after by the tests.
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function sh(...args: string[]): Promise<string> {
  const [command, ...rest] = args;
  try {
    const { stdout } = await run(command as string, rest, { timeout: 20_000 });
    return stdout;
  } catch (err) {
    throw new Error(`${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
}

/** The namespaces on this machine (`ip netns list`), names only. */
export async function netnsList(): Promise<string[]> {
  return (await sh('ip', 'netns', 'list')).split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean);
}

export interface NodeNetwork {
  /** The namespace's name. */
  name: string;
  /** The host side of the veth (where the relays listen), and the node's own address. */
  hostAddress: string;
  nodeAddress: string;
  /** The command prefix that starts a process inside the namespace (StartOptions.spawnPrefix). */
  spawnPrefix: string[];
  /** Drops every packet to or from this TCP port on the node's veth, both ways, until healed. */
  cut(port: number): Promise<void>;
  /** Removes every cut. */
  heal(): Promise<void>;
  /** Drops this share (0..1) of the node's packets, both ways; 0 stops it. */
  loss(share: number): Promise<void>;
}

export interface NodeNetworks {
  nodes: NodeNetwork[];
  /** Every address of these networks, as a CIDR (for HERALD_TRUST_PROXY). */
  cidr: string;
  /** Deletes the veths and namespaces made here; safe to call more than once. */
  remove(): Promise<void>;
}

/** A second octet no address or route of this machine uses: 10.<x>.0.0/16 is ours alone. */
async function freeSecondOctet(): Promise<number> {
  const used = await sh('ip', '-4', 'route', 'show', 'table', 'all');
  const addresses = await sh('ip', '-4', 'addr');
  for (let tries = 0; tries < 50; tries++) {
    const x = randomInt(100, 250);
    if (!new RegExp(`\\b10\\.${x}\\.`).test(used + addresses)) return x;
  }
  throw new Error('no free 10.x.0.0/16 for the test networks');
}

/** Makes `count` namespaces, each with its veth pair, addresses, a down ifb and clsact. */
export async function createNodeNetworks(count: number): Promise<NodeNetworks> {
  const tag = randomBytes(3).toString('hex');
  const x = await freeSecondOctet();
  const made: Array<{ ns: string; hostVeth: string }> = [];
  const remove = async () => {
    for (const { ns, hostVeth } of made.splice(0)) {
      // Deleting one end deletes the pair; the namespace (and its ifb) goes after it.
      await sh('ip', 'link', 'del', hostVeth).catch(() => '');
      await sh('ip', 'netns', 'del', ns).catch(() => '');
    }
  };
  const nodes: NodeNetwork[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const ns = `herald-${tag}-n${i}`;
      const hostVeth = `hr${tag}n${i}h`;
      const nodeVeth = `hr${tag}n${i}n`;
      const sink = `hr${tag}n${i}d`;
      const hostAddress = `10.${x}.${i}.1`;
      const nodeAddress = `10.${x}.${i}.2`;
      await sh('ip', 'netns', 'add', ns);
      made.push({ ns, hostVeth });
      await sh('ip', 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nodeVeth, 'netns', ns);
      await sh('ip', 'addr', 'add', `${hostAddress}/30`, 'dev', hostVeth);
      await sh('ip', 'link', 'set', hostVeth, 'up');
      await sh('ip', '-n', ns, 'addr', 'add', `${nodeAddress}/30`, 'dev', nodeVeth);
      await sh('ip', '-n', ns, 'link', 'set', nodeVeth, 'up');
      await sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      // Kept down: a packet redirected to it is dropped.
      await sh('ip', '-n', ns, 'link', 'add', sink, 'type', 'ifb');
      await sh('tc', '-n', ns, 'qdisc', 'add', 'dev', nodeVeth, 'clsact');
      const drop = ['action', 'mirred', 'egress', 'redirect', 'dev', sink];
      const filter = (direction: 'egress' | 'ingress', prio: number, ...match: string[]) =>
        sh('tc', '-n', ns, 'filter', 'add', 'dev', nodeVeth, direction, 'protocol', 'ip', 'prio', String(prio), ...match, ...drop);
      const cuts: number[] = [];
      nodes.push({
        name: ns,
        hostAddress,
        nodeAddress,
        spawnPrefix: ['ip', 'netns', 'exec', ns],
        async cut(port) {
          const prio = 10 + cuts.length;
          cuts.push(prio);
          for (const direction of ['egress', 'ingress'] as const) {
            for (const field of ['sport', 'dport']) await filter(direction, prio, 'u32', 'match', 'ip', field, String(port), '0xffff');
          }
        },
        async heal() {
          for (const prio of cuts.splice(0)) {
            for (const direction of ['egress', 'ingress']) await sh('tc', '-n', ns, 'filter', 'del', 'dev', nodeVeth, direction, 'prio', String(prio));
          }
        },
        async loss(share) {
          for (const direction of ['egress', 'ingress']) await sh('tc', '-n', ns, 'filter', 'del', 'dev', nodeVeth, direction, 'prio', '1').catch(() => '');
          if (share <= 0) return;
          // ld rand; jge #threshold -> pass; else -> match (dropped). 4 classic BPF instructions.
          const threshold = Math.floor(share * 2 ** 32);
          const bytecode = `4,32 0 0 ${0xfffff000 + 56},53 1 0 ${threshold},6 0 0 ${0xffffffff},6 0 0 0`;
          for (const direction of ['egress', 'ingress'] as const) await filter(direction, 1, 'bpf', 'bytecode', bytecode);
        },
      });
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return { nodes, cidr: `10.${x}.0.0/16`, remove };
}

export interface Relay {
  host: string;
  port: number;
  /** Every chunk, each way, waits meanMs ± jitterMs (uniform) before it is passed on; 0 stops it. */
  delay(meanMs: number, jitterMs?: number): void;
  close(): Promise<void>;
}

/** A TCP forwarder from host:0 to target; see the header for why it exists. */
export async function startRelay(host: string, target: { host: string; port: number }): Promise<Relay> {
  let mean = 0;
  let jitter = 0;
  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket) => {
    // The time the previous chunk was passed on: a later chunk never overtakes it.
    let last = 0;
    from.on('data', (chunk: Buffer) => {
      if (mean === 0) {
        to.write(chunk);
        return;
      }
      const at = Math.max(last, Date.now() + mean + (Math.random() * 2 - 1) * jitter);
      last = at;
      setTimeout(() => { if (!to.destroyed) to.write(chunk); }, at - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - Date.now())));
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  return {
    host,
    port: typeof address === 'object' && address ? address.port : 0,
    delay(meanMs, jitterMs = 0) {
      mean = meanMs;
      jitter = Math.min(jitterMs, meanMs);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
