// Errors of the images area. Each has a stable `code` for the API's error table, and a message
// that says what failed, why, and what to do.
import type { Finding, InspectResult } from './inspect/types.js';
import { formatBytes } from './inspect/bytes.js';

export class ImageError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
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
