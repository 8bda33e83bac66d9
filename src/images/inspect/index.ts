// The format inspector's public face: header inspection, then qemu-img as a second opinion.
export * from './types.js';
export {
  inspectImage,
  inspectBuffer,
  inspectSource,
  INSPECTABLE_DISK_FORMATS,
  type InspectOptions,
} from './inspect.js';
export { checkImage, checkUpload, NON_DISK_FORMATS, qemuSecondOpinion, type CheckOptions } from './check.js';
export { VMDK_ALLOWED_CREATE_TYPES } from './vmdk.js';
