/// A key press, decoded from the bytes a terminal sends in raw mode.
public enum TopKey: Sendable, Equatable {
    case up, down, pageUp, pageDown, home, end
    case enter, escape, backspace, interrupt
    case character(Character)
}

/// Turns terminal input into keys. Arrows come as `ESC [ A` (or `ESC O A` in application mode);
/// an ESC with nothing after it in the same read is the Escape key itself.
public enum TopKeyDecoder {
    public static func decode(_ bytes: [UInt8]) -> [TopKey] {
        var keys: [TopKey] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case 0x1B:
                if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "[") || bytes[index + 1] == UInt8(ascii: "O") {
                    // CSI: parameters up to a final byte in 0x40...0x7E.
                    var end = index + 2
                    while end < bytes.count, !(0x40...0x7E).contains(bytes[end]) { end += 1 }
                    guard end < bytes.count else { return keys }
                    let parameters = String(decoding: bytes[(index + 2)..<end], as: UTF8.self)
                    switch (bytes[end], parameters) {
                    case (UInt8(ascii: "A"), _): keys.append(.up)
                    case (UInt8(ascii: "B"), _): keys.append(.down)
                    case (UInt8(ascii: "H"), _), (UInt8(ascii: "~"), "1"), (UInt8(ascii: "~"), "7"): keys.append(.home)
                    case (UInt8(ascii: "F"), _), (UInt8(ascii: "~"), "4"), (UInt8(ascii: "~"), "8"): keys.append(.end)
                    case (UInt8(ascii: "~"), "5"): keys.append(.pageUp)
                    case (UInt8(ascii: "~"), "6"): keys.append(.pageDown)
                    default: break
                    }
                    index = end + 1
                    continue
                }
                keys.append(.escape)
            case 0x0D, 0x0A: keys.append(.enter)
            case 0x7F, 0x08: keys.append(.backspace)
            case 0x03: keys.append(.interrupt)
            case 0x20...0x7E: keys.append(.character(Character(Unicode.Scalar(byte))))
            case 0xC0...0xF7:
                // One UTF-8 character (filter text may be in any language).
                let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                if index + length <= bytes.count, let text = String(validating: bytes[index..<(index + length)], as: UTF8.self),
                    let character = text.first
                {
                    keys.append(.character(character))
                }
                index += length
                continue
            default: break
            }
            index += 1
        }
        return keys
    }
}
