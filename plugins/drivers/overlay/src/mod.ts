export { overlayPlugin, OverlayConfig, applyTableEvent } from './driver.ts';
