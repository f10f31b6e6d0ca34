import Foundation

/// Writes to a terminal stream, with colour only when it is a terminal and `NO_COLOR` is unset.
struct Console: Sendable {
    static let standardOutput = Console(descriptor: STDOUT_FILENO)
    static let standardError = Console(descriptor: STDERR_FILENO)

    let descriptor: Int32
    let colored: Bool

    init(descriptor: Int32) {
        self.descriptor = descriptor
        // getenv, not ProcessInfo: that builds a dictionary of the whole environment on every call.
        self.colored = isatty(descriptor) == 1 && getenv("NO_COLOR") == nil && getenv("TERM").map { String(cString: $0) } != "dumb"
    }

    enum Style: String {
        case bold = "1"
        case dim = "2"
        case red = "31"
        case green = "32"
        case yellow = "33"
        case blue = "34"
        case magenta = "35"
        case cyan = "36"
    }

    func paint(_ text: String, _ style: Style) -> String {
        colored ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written <= 0 { if errno == EINTR { continue } else { return } }
            offset += written
        }
    }

    func line(_ text: String = "") { write(text + "\n") }

    func error(_ message: String) { line(paint("error:", .red) + " " + message) }
    func warning(_ message: String) { line(paint("warning:", .yellow) + " " + message) }
}

/// `1 service`, `2 services`: a count with its noun agreeing.
func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(count) " + (count == 1 ? noun : plural ?? noun + "s")
}
