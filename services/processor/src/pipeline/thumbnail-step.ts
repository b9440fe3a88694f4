// Step 3: a WebP thumbnail (longest side THUMBNAIL_SIZE, EXIF orientation applied) for raster
// images, stored under thumbnailKey(object key). An image that cannot be decoded is rejected
// (its magic bytes claim a format its content does not hold); one that is too large for a
// thumbnail stays READY without one.
import { Readable } from "node:stream";
import { thumbnailKey } from "@filemesh/kit/blob";
import sharp from "sharp";
import { readHead, reject, type Step } from "./step.js";

export const THUMBNAIL_TYPES = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/tiff",
]);
/** Decoding more pixels than this is refused (decompression bombs). */
export const MAX_PIXELS = 50_000_000;

/** The thumbnail of an image, or undefined when it has more pixels than MAX_PIXELS. */
export async function makeThumbnail(image: Buffer, size: number): Promise<Buffer | undefined> {
  const meta = await sharp(image, { limitInputPixels: false, failOn: "error" }).metadata();
  if (!meta.width || !meta.height) throw new Error("no dimensions");
  if (meta.width * meta.height > MAX_PIXELS) return undefined;
  return sharp(image, { limitInputPixels: MAX_PIXELS, failOn: "error" })
    .rotate()
    .resize({ width: size, height: size, fit: "inside", withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer();
}

export const thumbnailStep: Step = {
  name: "thumbnail",
  async run(job, findings, { blobs, log, thumbnail }) {
    if (!THUMBNAIL_TYPES.has(findings.contentType)) return undefined;
    if (job.sizeBytes > BigInt(thumbnail.maxBytes)) {
      log.info({ fileId: job.fileId, sizeBytes: String(job.sizeBytes) }, "image too large for a thumbnail");
      return undefined;
    }
    const image = await readHead(blobs, job.objectKey, Number(job.sizeBytes));
    let thumb: Buffer | undefined;
    try {
      thumb = await makeThumbnail(image, thumbnail.size);
    } catch (err) {
      log.info({ fileId: job.fileId, err: (err as Error).message }, "image cannot be decoded");
      return reject(
        "IMAGE_UNREADABLE",
        `the content looks like ${findings.contentType} but cannot be decoded`,
      );
    }
    if (!thumb) return undefined;
    await blobs.put(thumbnailKey(job.objectKey), Readable.from([thumb]));
    return { findings: { hasThumbnail: true } };
  },
};
