// A separate process asking the image cache for one image (the cross-process lock test).
// argv: instancesPath imagePath counterFile imageId
import { appendFileSync, createReadStream } from 'node:fs';
import { ImageCache } from '../../../src/images/cache.js';

const [instancesPath, imagePath, counterFile, imageId] = process.argv.slice(2);
const cache = new ImageCache({
  instancesPath,
  source: {
    async open() {
      appendFileSync(counterFile, `${process.pid}\n`);
      await new Promise((r) => setTimeout(r, 300)); // a slow download: the others must wait
      return createReadStream(imagePath);
    },
  },
});
const base = await cache.ensure(imageId);
process.stdout.write(JSON.stringify(base));
