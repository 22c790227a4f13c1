/**
 * The `control` kernel plugin: provides the `control` service (ControlService) and the contracts
 * Swarm.*, Node.*, Network.*, Blocks.* as kernel methods with io-ts codecs, so the agent's local
 * API routes to them and guards can hook them (e.g. `Network.Attach`).
 */
import * as t from 'io-ts';
import { definePlugin, method, type Context, type PluginDefinition } from '@weft/kernel';
import {
  AttachRequest,
  BlockReleaseMsg,
  BlockRequestMsg,
  BlockResponse,
  CreateResponse,
  Empty,
  InitRequest,
  InitResponse,
  JoinRequest,
  JoinResponse,
  JoinTokenRequest,
  KeyRingInfo,
  LeaveRequest,
  NetworkCreateRequest,
  NetworkRecord,
  NetworkRef,
  NodeRef,
  NodeRemoveRequest,
  NodeView,
  SwarmInfo,
  TokenResponse,
} from './codecs.ts';
import { ControlService, type ControlOptions } from './service.ts';

export const CONTROL_VERSION = '0.1.0';

/** Every method the plugin defines, by full name. */
export const ControlMethods = {
  'Swarm.Init': method('Swarm', 'Init', InitRequest, InitResponse),
  'Swarm.Join': method('Swarm', 'Join', JoinRequest, JoinResponse),
  'Swarm.Leave': method('Swarm', 'Leave', LeaveRequest, Empty),
  'Swarm.JoinToken': method('Swarm', 'JoinToken', JoinTokenRequest, TokenResponse),
  'Swarm.Inspect': method('Swarm', 'Inspect', Empty, SwarmInfo),
  'Swarm.RotateKeys': method('Swarm', 'RotateKeys', Empty, KeyRingInfo),
  'Node.List': method('Node', 'List', Empty, t.array(NodeView)),
  'Node.Inspect': method('Node', 'Inspect', NodeRef, NodeView),
  'Node.Remove': method('Node', 'Remove', NodeRemoveRequest, Empty),
  'Network.Create': method('Network', 'Create', NetworkCreateRequest, CreateResponse),
  'Network.Remove': method('Network', 'Remove', NetworkRef, Empty),
  'Network.List': method('Network', 'List', Empty, t.array(NetworkRecord)),
  'Network.Inspect': method('Network', 'Inspect', NetworkRef, NetworkRecord),
  'Network.Attach': method('Network', 'Attach', AttachRequest, NetworkRecord),
  'Network.Detach': method('Network', 'Detach', AttachRequest, NetworkRecord),
  'Blocks.Request': method('Blocks', 'Request', BlockRequestMsg, BlockResponse),
  'Blocks.Release': method('Blocks', 'Release', BlockReleaseMsg, Empty),
} as const;

const svc = (ctx: Context<unknown>): ControlService => ctx.services.get('control') as ControlService;

export function controlPlugin(opts: ControlOptions = {}): PluginDefinition {
  return definePlugin({
    manifest: {
      name: 'control',
      version: CONTROL_VERSION,
      kernel: '^0.1.0',
      provides: ['control', 'Swarm', 'Node', 'Network', 'Blocks'],
      optional: ['membership', 'cipher'],
      description: 'Swarm control plane: init/join with pinned-key tokens, encrypted channel, durable manager state, key rotation',
    },
    methods: Object.values(ControlMethods),
    services: {
      control: async (ctx) => {
        const s = new ControlService(ctx, opts);
        await s.start();
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
      await svc(ctx).stop();
    },
  });
}

type AttachInput = t.TypeOf<typeof AttachRequest>;
