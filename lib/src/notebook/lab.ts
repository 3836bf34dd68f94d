import { ConfigError } from '../runtime/errors';
import { redisUrlFromEnv } from '../runtime/env';

/**
 * The Redis the lab started (`npm start` and the notebook runner export `REDIS_URL` to the kernel),
 * or the one the user pointed `REDIS_URL` at.
 */
export function labRedisUrl(): string {
  const url = redisUrlFromEnv();
  if (url === undefined) {
    throw new ConfigError('REDIS_URL is not set: start the lab with `npm start` (it starts an embedded Redis), or set REDIS_URL=redis://host:port before starting Jupyter');
  }
  return url;
}

