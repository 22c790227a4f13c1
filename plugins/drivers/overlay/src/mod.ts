export * from './driver.ts';
export * from './options.ts';
