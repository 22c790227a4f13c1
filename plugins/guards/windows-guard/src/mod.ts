/**
 * @weft/windows-guard — refuses `Network.Attach` of a Windows node to an encrypted network.
 *
 * Docker's Windows overlay driver declares but never reads the `encrypted` option, so a Windows
 * task on an encrypted network sends its traffic in clear and "Swarm doesn't report an error"
 * (anchors §A, §E.8; moby/moby#33678). Weft refuses instead, naming the node and the reason.
 * Load it on managers (where every node's attach is recorded, so it sees all nodes) and, for an
 * earlier answer, on the nodes themselves.
 */
import { AttachRequest, definePlugin, type GuardVerdict, type PluginDefinition } from '@weft/kernel';

export const GUARD_NAME = 'windows-encrypted-overlay';

export function windowsGuardPlugin(): PluginDefinition {
  return definePlugin({
    manifest: {
      name: 'windows-guard',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['guard'],
      requires: ['control'],
      description: 'Refuses attaching Windows nodes to encrypted overlay networks',
    },
    guards: [
      {
        name: GUARD_NAME,
        hooks: ['Network.Attach'],
        phase: 'before',
        order: 10,
        async check(call, ctx): Promise<GuardVerdict> {
          // The kernel decoded the input with the method's codec before any guard runs.
          if (!AttachRequest.is(call.input)) return undefined;
          const input = call.input;
          const control = ctx.services.get('control');
          const net = control.findNetwork(input.Network);
          if (net === undefined || !net.Encrypted) return undefined;
          const node = await control.describeNode(input.Node);
          if (node === undefined || node.Platform.OS.toLowerCase() !== 'windows') return undefined;
          return {
            veto: `node "${node.Name}"${node.ID !== '' ? ` (${node.ID})` : ''} runs Windows, which cannot encrypt overlay traffic, and network "${net.Name}" is encrypted; its sandbox "${input.Sandbox}" would send in clear`,
            hint: 'Run the sandbox on a Linux node, or attach it to a network created without --opt encrypted.',
          };
        },
      },
    ],
  });
}

export { windowsGuardPlugin as default };
