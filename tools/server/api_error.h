// An error answered to an HTTP client in OpenAI's shape:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}} with an HTTP status.
#pragma once

#include <stdexcept>
#include <string>

namespace duogen::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = {}, std::string code = {})
      : std::runtime_error(message), status_(status), param_(std::move(param)),
        code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // invalid_request_error (4xx), authentication_error (401), server_error (5xx), ...
  std::string type() const;
  // The response body.
  std::string json() const;

 private:
  int status_;
  std::string param_;
  std::string code_;
};

// 400 naming the field.
inline ApiError bad_field(const std::string& param, const std::string& message) {
  return ApiError(400, message, param);
}

}  // namespace duogen::server
