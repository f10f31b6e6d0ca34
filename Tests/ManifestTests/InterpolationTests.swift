import DevhostManifest
import Testing

@Suite struct InterpolationTests {
    let env: [String: String] = ["HOME": "/home/me", "EMPTY": "", "PORT": "8123"]

    func render(_ text: String) throws -> String {
        let env = self.env
        return try Interpolator(
            variable: { env[$0] },
            reference: { ref in
                switch ref.field {
                case .host: return "127.0.0.1"
                case .port: return "41000"
                case .url: return "http://127.0.0.1:41000"
                case .publicURL: return "https://\(ref.service).shop.localhost:7443"
                case .publicHTTPURL: return "http://\(ref.service).shop.localhost:7777"
                }
            }
        ).render(text)
    }

    @Test func variablesAndDefaults() throws {
        #expect(try render("${HOME}/x") == "/home/me/x")
        #expect(try render("${MISSING}") == "")
        #expect(try render("${MISSING:-fallback}") == "fallback")
        #expect(try render("${EMPTY:-fallback}") == "fallback")
        #expect(try render("${EMPTY-fallback}") == "")
        #expect(try render("${MISSING-fallback}") == "fallback")
        #expect(try render("${MISSING:-${HOME}/d}") == "/home/me/d")
        #expect(try render("${PORT:?needs a port}") == "8123")
        #expect(throws: Interpolator.UnsetVariable.self) { try render("${MISSING:?set MISSING in .env}") }
    }

    @Test func dollarsThatAreNotInterpolation() throws {
        #expect(try render("$$HOME") == "$HOME")
        #expect(try render("cost: 5$") == "cost: 5$")
        #expect(try render("--port $PORT") == "--port $PORT")
        #expect(try render("a $$ b") == "a $ b")
    }

    @Test func serviceReferences() throws {
        #expect(try render("postgres://${db.host}:${db.port}/shop") == "postgres://127.0.0.1:41000/shop")
        #expect(try render("${api.url}/v1") == "http://127.0.0.1:41000/v1")
        #expect(try render("${web.public_url}") == "https://web.shop.localhost:7443")
        #expect(try render("${web.public_http_url}/cb") == "http://web.shop.localhost:7777/cb")
        #expect(try Interpolation.references(in: "${a.url} ${X:-${b.port}}").map(\.service) == ["a", "b"])
    }

    @Test func unresolvedReferencesRenderAsWritten() throws {
        #expect(try Interpolator(variable: { _ in nil }).render("${api.url}") == "${api.url}")
    }

    @Test func syntaxErrors() {
        #expect(throws: Interpolation.SyntaxError.self) { try Interpolation.parse("${OPEN") }
        #expect(throws: Interpolation.SyntaxError.self) { try Interpolation.parse("${a.b.c}") }
        #expect(throws: Interpolation.SyntaxError.self) { try Interpolation.parse("${api.url:-x}") }
        #expect(throws: Interpolation.SyntaxError.self) { try Interpolation.parse("${1X}") }
        #expect(throws: Interpolation.SyntaxError.self) { try Interpolation.parse("${X?y}") }
    }
}
