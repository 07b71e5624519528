import { escapeUnescapedByJson } from '../logValue';
import { cutText } from '../text';

// What a service's error text could carry that must never reach a message or a log line.
const JWT = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;
const BEARER = /\b(Bearer)\s+[^\s,;"']+/gi;
const SIGNATURE = /([?&](?:sig|se|skoid|sktid|sv|st|sp|spr|srt|ss|sr)=)[^&\s"'<>]*/gi;
const KEY = /((?:AccountKey|SharedAccessSignature|AccessKey)\s*=\s*)[^;\s"']+/gi;
const CONTROL = /[\u0000-\u001f]+/g; // eslint-disable-line no-control-regex

/**
 * A service's error text made fit for an error message: on one line, tokens,
 * SAS query values and keys replaced by `…`, cut to `maxLength`. Our own
 * messages quote it; they never quote a request's headers.
 */
export function secretFree(text: string, maxLength = 300): string {
  const clean = text
    .replace(JWT, '…')
    .replace(BEARER, '$1 …')
    .replace(SIGNATURE, '$1…')
    .replace(KEY, '$1…')
    .replace(CONTROL, ' ')
    .trim();
  return escapeUnescapedByJson(clean.length > maxLength ? `${cutText(clean, maxLength)}…` : clean);
}
