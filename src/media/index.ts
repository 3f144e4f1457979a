/**
 * Small real media files, made in memory without native tools: the `mock` provider's outputs and the
 * fake providers' outputs in tests. Each function is deterministic for the same arguments.
 */
export { pngBytes } from './png';
export { mp4Bytes } from './mp4';
export { wavBytes } from './wav';
