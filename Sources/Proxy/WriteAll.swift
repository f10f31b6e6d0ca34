import Foundation

/// Writes all of `bytes` to `fd`, going on after short writes and interruptions; gives up on an
/// error (a closed terminal or pipe): log output never fails the work it describes.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        if written == 0 { return }
        offset += written
    }
}
