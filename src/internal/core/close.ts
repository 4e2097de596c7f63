/** Close codes the library itself sends, and validation of user-chosen ones (RFC 6455, 7.4). */

export const GoingAway = 1001
export const ProtocolError = 1002
export const NoStatus = 1005
export const Abnormal = 1006
export const InvalidPayload = 1007
export const PolicyViolation = 1008
export const MessageTooBig = 1009
export const InternalError = 1011

export const utf8Length = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

export const isValidCloseCode = (code: number): boolean =>
  Number.isInteger(code) &&
  ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))

export const validateClose = (code: number, reason: string): "InvalidCode" | "ReasonTooLong" | undefined =>
  !isValidCloseCode(code) ?
    "InvalidCode" : // a UTF-16 unit is at most 3 bytes of UTF-8, so 41 units always fit
    reason.length > 41 && utf8Length(reason) > 123
    ? "ReasonTooLong"
    : undefined
