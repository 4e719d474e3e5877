/**
 * `node --import @dpkg/client/register app.mjs` lets code write
 *   import images from "dpkg:mypkg/images";
 * and receive the opened, dpkg.lock-pinned package (see open()).
 */
import { register } from "node:module";

register("./dpkg-loader.js", import.meta.url);
