// Errors of the images area: KestrelErrors whose codes (and so HTTP statuses) are in the one
// catalogue (src/errors/catalogue.ts), each with a message that says what failed, why, and what
// to do. The subclasses carry the facts a caller branches on (an inspection's findings, sizes).
import { KestrelError, type ErrorCode, type ErrorOptions } from '../errors/index.js';
import type { Finding, InspectResult } from './inspect/types.js';
import { formatBytes } from './inspect/bytes.js';

/** The catalogue's codes the images area raises. */
export type ImageErrorCode = Extract<
  ErrorCode,
  | 'image-refused'
  | 'image-too-large'
  | 'image-upload-interrupted'
  | 'image-not-found'
  | 'image-conflict'
  | 'image-in-use'
  | 'image-unacceptable'
  | 'image-cache'
  | 'invalid-image-id'
  | 'invalid-instance-uuid'
  | 'flavor-disk-too-small'
  | 'disk-exists'
  | 'disk-not-found'
  | 'disk-in-use'
  | 'storage-misconfigured'
  | 'storage-full'
  | 'storage-unavailable'
>;

export class ImageError extends KestrelError<ImageErrorCode> {
  constructor(code: ImageErrorCode, message: string, opts: ErrorOptions = {}) {
    super(code, message, opts);
  }
}

/** The inspector (or qemu-img's second opinion) refused the image. Glance answers 400. */
export class ImageRefusedError extends ImageError {
  readonly findings: Finding[];
  constructor(
    readonly what: string,
    readonly result: InspectResult,
  ) {
    super(
      'image-refused',
      `${what} was refused: ${result.findings.map((f) => `${f.message} [${f.code}]`).join(' ')}`,
    );
    this.findings = result.findings;
  }
}

/** The upload was larger than the limit (Glance answers 413). */
export class ImageTooLargeError extends ImageError {
  constructor(
    readonly imageId: string,
    readonly limitBytes: number,
  ) {
    super(
      'image-too-large',
      `image ${imageId} is larger than the upload limit of ${formatBytes(limitBytes)}; upload a smaller image or raise the limit`,
    );
  }
}

/** The data stream failed before its end: nothing was kept. */
export class ImageUploadInterruptedError extends ImageError {
  constructor(imageId: string, cause: unknown) {
    super(
      'image-upload-interrupted',
      `upload of image ${imageId} was interrupted (${cause instanceof Error ? cause.message : String(cause)}); nothing was kept, upload it again`,
      { cause },
    );
  }
}

export class ImageNotFoundError extends ImageError {
  constructor(imageId: string, where: string) {
    super('image-not-found', `image ${imageId} has no data in ${where}; upload its data first`);
  }
}

export class ImageAlreadyStoredError extends ImageError {
  constructor(imageId: string) {
    super('image-conflict', `image ${imageId} already has data; image data can be uploaded only once`);
  }
}

export class InvalidImageIdError extends ImageError {
  constructor(imageId: string) {
    super(
      'invalid-image-id',
      `image id ${JSON.stringify(imageId.slice(0, 80))} is not a valid id (letters, digits, '-', '_', '.')`,
    );
  }
}

/** The image is bigger than the flavor's root disk (Nova's FlavorDiskSmallerThanImage). */
export class FlavorDiskSmallerThanImageError extends ImageError {
  constructor(
    readonly imageVirtualSize: number,
    readonly flavorDiskSize: number,
  ) {
    super(
      'flavor-disk-too-small',
      `the flavor's root disk of ${formatBytes(flavorDiskSize)} is smaller than the image's virtual size of ` +
        `${formatBytes(imageVirtualSize)}; choose a flavor with a larger disk`,
    );
  }
}

const IMAGE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Ids become file names: only plain names, never a path. */
export function assertValidImageId(imageId: string): void {
  if (!IMAGE_ID.test(imageId) || imageId.includes('..')) throw new InvalidImageIdError(imageId);
}
