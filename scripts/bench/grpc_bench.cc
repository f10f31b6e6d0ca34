// The C++ gRPC server of scripts/bench/grpc_bench.sh (grpc++ from Debian, callback API): the method
// /bench.Echo/Unary answers each request message with the same bytes; any other method is
// UNIMPLEMENTED. A generic service on raw bytes: no protoc, no generated code. Fast enough (about
// 50 µs of CPU per call) that a proxy in front of it shows in the request rate, which a Python
// grpcio server (500+ µs per call) hides.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
class Call final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Call(grpc::GenericCallbackServerContext* context) {
    if (context->method() != "/bench.Echo/Unary") {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no method " + context->method()));
      return;
    }
    StartRead(&message_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
    StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer message_;
};

class Echo final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override {
    return new Call(context);
  }
};
}  // namespace

int main() {
  const char* port = std::getenv("PORT");
  if (port == nullptr) return 2;
  Echo echo;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("127.0.0.1:") + port, grpc::InsecureServerCredentials());
  builder.RegisterCallbackGenericService(&echo);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  std::printf("listening on %s\n", port);
  std::fflush(stdout);
  server->Wait();
}
