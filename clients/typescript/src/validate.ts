import { Ajv2020 } from 'ajv/dist/2020.js';
import { InvalidRequestError } from './errors.js';
import { notificationRequestSchema } from './schemas.js';
import type { NotificationRequest } from './wire.js';

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
const check = ajv.compile<NotificationRequest>(notificationRequestSchema);

/** Checks `request` against Herald's NotificationRequest schema (`herald schemas`). */
export function validateRequest(request: unknown): NotificationRequest {
  if (check(request)) return request;
  throw new InvalidRequestError(
    (check.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? e.keyword })),
  );
}
