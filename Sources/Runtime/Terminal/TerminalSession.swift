import Foundation

/// The terminal while `devhost top` owns it: raw input, the alternate screen, a hidden cursor; and
/// a redraw that writes only the lines that changed. `restore()` puts everything back, and runs at
/// most once however the program ends (q, Ctrl-C, SIGTERM, SIGHUP).
public final class TerminalSession {
    let input: Int32
    let output: Int32
    private var original = termios()
    private var active = false
    private var shown: [String] = []

    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) {
        self.input = input
        self.output = output
    }

    /// Raw mode without echo or line buffering; signals stay on, so Ctrl-C is SIGINT as usual.
    public func begin() throws(TerminalError) {
        guard tcgetattr(input, &original) == 0 else { throw TerminalError(message: "cannot read the terminal's settings") }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        // Every byte at once; reads are driven by poll.
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(input, TCSANOW, &raw) == 0 else { throw TerminalError(message: "cannot put the terminal in raw mode") }
        active = true
        // Alternate screen, cursor hidden, screen cleared.
        write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    public func restore() {
        guard active else { return }
        active = false
        write("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(input, TCSANOW, &original)
    }

    /// Columns and rows, from the kernel (the tty's winsize).
    public func size() -> (width: Int, height: Int) {
        var size = winsize()
        guard ioctl(output, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else { return (80, 24) }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// Draws `lines`, rewriting only those that differ from the screen; everything after a resize.
    public func draw(_ lines: [String], full: Bool = false) {
        var out = full ? "\u{1B}[H\u{1B}[2J" : ""
        if full { shown = [] }
        for (row, line) in lines.enumerated() where row >= shown.count || shown[row] != line {
            out += "\u{1B}[\(row + 1);1H\u{1B}[0m" + line + "\u{1B}[0m\u{1B}[K"
        }
        if lines.count < shown.count { out += "\u{1B}[\(lines.count + 1);1H\u{1B}[J" }
        shown = lines
        if !out.isEmpty { write(out) }
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(output, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

public struct TerminalError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
