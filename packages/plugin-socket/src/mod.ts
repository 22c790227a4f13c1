export { PLUGIN_CONTENT_TYPE, statusFor, errorBody, pluginHandler, servePluginSocket, listenUnix } from './server.ts';
export type { GatewayOptions, Gateway, PluginHandler } from './server.ts';
export { postUnix, call, mountPluginSocket } from './client.ts';
export type { PostResult, MountOptions } from './client.ts';
