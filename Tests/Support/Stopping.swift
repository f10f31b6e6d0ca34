/// What a test starts and must stop whatever becomes of the test: a harness with its servers and
/// child processes.
public protocol Stoppable {
    func stop() async
}

/// Runs `body` with `world`, then stops `world`, whether `body` returned or threw.
public func using<World: Stoppable>(_ world: World, _ body: (World) async throws -> Void) async throws {
    do {
        try await body(world)
    } catch {
        await world.stop()
        throw error
    }
    await world.stop()
}
