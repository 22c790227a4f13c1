/**
 * The `control` kernel plugin: provides the kernel's `control` contract — the `control` service
 * (ControlService implements `Control`) and Swarm.*, Node.*, Network.*, Blocks.* as kernel methods, so the agent's local
 * API routes to them and guards can hook them (e.g. `Network.Attach`).
 */
import type * as t from 'io-ts';
import { ControlMethods, definePlugin, type Context, type Control, type PluginDefinition } from '@weft/kernel';
import type { AttachRequest, BlockReleaseMsg, BlockRequestMsg, InitRequest, JoinRequest, JoinTokenRequest, LeaveRequest, NetworkCreateRequest, NodeRemoveRequest } from './codecs.ts';
import { ControlService, type ControlOptions } from './service.ts';

export const CONTROL_VERSION = '0.1.0';

/** Every method the plugin defines, by full name (the kernel's `control` contract). */
export { ControlMethods };

const svc = (ctx: Context<unknown>): Control => ctx.services.get('control');

export function controlPlugin(opts: ControlOptions = {}): PluginDefinition {
  // The instance behind each kernel's `control` service, for stop (not part of the contract).
  const instances = new WeakMap<object, ControlService>();
  return definePlugin({
    manifest: {
      name: 'control',
      version: CONTROL_VERSION,
      kernel: '^0.1.0',
      provides: ['control', 'Swarm', 'Node', 'Network', 'Blocks'],
      // Address blocks of swarm networks come from the `blocks` allocator (@weft/ipam's ipamBlocksPlugin).
      requires: ['blocks'],
      // Cluster-store backends (`clusterStore.embedded`, `clusterStore.etcd`, ...): the one --cluster-store names is opened.
      optional: ['membership', 'cipher', 'clusterStore.*'],
      description: 'Swarm control plane: init/join with pinned-key tokens, encrypted channel, per-key cluster state on a cluster store, several managers with a leased leader, key rotation',
    },
    methods: Object.values(ControlMethods),
    services: {
      control: async (ctx): Promise<Control> => {
        const s = new ControlService(ctx, opts);
        await s.start();
        instances.set(ctx.store, s);
        return s;
      },
    },
    handlers: {
      Swarm: {
        Init: (i: t.TypeOf<typeof InitRequest>, ctx) => svc(ctx).init(i),
        Join: (i: t.TypeOf<typeof JoinRequest>, ctx) => svc(ctx).join(i),
        Leave: (i: t.TypeOf<typeof LeaveRequest>, ctx) => svc(ctx).leave(i.Force ?? false),
        JoinToken: (i: t.TypeOf<typeof JoinTokenRequest>, ctx) => svc(ctx).joinToken(i.Role, i.Rotate ?? false),
        Inspect: (_i: unknown, ctx) => svc(ctx).info(),
        RotateKeys: (_i: unknown, ctx) => svc(ctx).rotateKeys(),
      },
      Node: {
        List: (_i: unknown, ctx) => svc(ctx).nodes(),
        Inspect: (i: { Node: string }, ctx) => svc(ctx).inspectNode(i.Node),
        Remove: (i: t.TypeOf<typeof NodeRemoveRequest>, ctx) => svc(ctx).removeNode(i.Node, i.Force ?? false),
        Promote: (i: { Node: string }, ctx) => svc(ctx).promoteNode(i.Node),
        Demote: (i: { Node: string }, ctx) => svc(ctx).demoteNode(i.Node),
      },
      Network: {
        Create: (i: t.TypeOf<typeof NetworkCreateRequest>, ctx) => svc(ctx).createNetwork(i),
        Remove: (i: { Network: string }, ctx) => svc(ctx).removeNetwork(i.Network),
        List: (_i: unknown, ctx) => svc(ctx).networks(),
        Inspect: (i: { Network: string }, ctx) => svc(ctx).lookupNetwork(i.Network),
        Attach: (i: AttachInput, ctx) => svc(ctx).attach(i),
        Detach: (i: AttachInput, ctx) => svc(ctx).detach(i),
      },
      Blocks: {
        Request: (i: t.TypeOf<typeof BlockRequestMsg>, ctx) => svc(ctx).requestBlock(i),
        Release: (i: t.TypeOf<typeof BlockReleaseMsg>, ctx) => svc(ctx).releaseBlock(i),
      },
    },
    stop: async (ctx) => {
      await instances.get(ctx.store)?.stop();
    },
  });
}

type AttachInput = t.TypeOf<typeof AttachRequest>;
