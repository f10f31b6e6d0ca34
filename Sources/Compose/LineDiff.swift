/// A unified diff of two texts, line by line (LCS), for `devhost compose --check`.
public enum LineDiff {
    public static func unified(old: String, new: String, oldName: String, newName: String, context: Int = 2) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // LCS table from the end, so the walk below goes forward.
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        enum Op {
            case same(String)
            case removed(String)
            case added(String)
        }
        var ops: [Op] = []
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                ops.append(.same(a[i]))
                i += 1
                j += 1
            } else if i < a.count, j == b.count || table[i + 1][j] >= table[i][j + 1] {
                ops.append(.removed(a[i]))
                i += 1
            } else {
                ops.append(.added(b[j]))
                j += 1
            }
        }
        var lines = ["--- \(oldName)", "+++ \(newName)"]
        var lastPrinted = -1
        for (index, op) in ops.enumerated() {
            if case .same = op { continue }
            let start = max(index - context, lastPrinted + 1)
            if start > lastPrinted + 1, lastPrinted >= 0 { lines.append("@@") }
            for k in start...index where k > lastPrinted {
                switch ops[k] {
                case .same(let text): lines.append(" " + text)
                case .removed(let text): lines.append("-" + text)
                case .added(let text): lines.append("+" + text)
                }
                lastPrinted = k
            }
            // Trailing context after this change.
            var k = index + 1
            while k < ops.count, k <= index + context, case .same(let text) = ops[k] {
                lines.append(" " + text)
                lastPrinted = k
                k += 1
            }
        }
        return lines.joined(separator: "\n")
    }
}
