/**
 * @weft/bridge — Docker's `bridge` driver for Weft: single-host networks on the same userspace
 * switch as overlays, without VXLAN (VNI 0: nothing is encapsulated, and no VXLAN is accepted for
 * it). The NetworkDriver core is @weft/switch's, shared with @weft/overlay, so both behave alike to
 * Docker and the CLI; only how endpoints are shared differs (local events here, gossip tables for
 * overlays).
 */
export { bridgePlugin, BridgeConfig } from './driver.ts';
