import { Injectable } from '@nestjs/common';
import type { Result } from 'ioredis';
import { UnavailableError } from '#common';
import { RedisConnection } from './redis.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** TAKE_OR_WAIT below: 0 when a token was taken, else the milliseconds until one will be there. */
    efTakeTokenOrWait(bucket: string, capacity: number, refillPerMs: number): Result<number, Context>;
  }
}

/**
 * A token bucket in one Redis hash (`tokens`, `at` in ms), refilled lazily at each call: atomic, so every
 * replica spends from the same bucket, on Redis's clock (replicas' clocks do not matter). It also says how
 * long until the next token, for a Retry-After. The key expires once the bucket would be full again: an idle
 * bucket costs nothing. Repair requests and results requests spend from these.
 */
const TAKE_OR_WAIT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return wait
`;

export interface BucketLimits {
  readonly burst: number;
  readonly perMinute: number;
}

/** Rate limits shared by every replica; a key names one bucket (callers prefix it with what it limits). */
@Injectable()
export class TokenBuckets {
  constructor(private readonly redis: RedisConnection) {
    redis.client.defineCommand('efTakeTokenOrWait', { numberOfKeys: 1, lua: TAKE_OR_WAIT });
  }

  /** Spends a token from the bucket; returns 0, or the milliseconds until a token is there (none spent). */
  async take(key: string, limits: BucketLimits): Promise<number> {
    try {
      return await this.redis.client.efTakeTokenOrWait(key, limits.burst, limits.perMinute / 60_000);
    } catch (error) {
      // A limit that cannot be checked is not skipped.
      throw new UnavailableError('rate limit: Redis unavailable', { cause: error });
    }
  }
}
