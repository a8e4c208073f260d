#include "api_error.h"

#include <nlohmann/json.hpp>

namespace duogen::server {

std::string ApiError::type() const {
  switch (status_) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable";
    case 504: return "timeout_error";
    default: return status_ >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string ApiError::json() const {
  nlohmann::json error = {{"message", what()},
                          {"type", type()},
                          {"param", param_.empty() ? nlohmann::json() : nlohmann::json(param_)},
                          {"code", code_.empty() ? nlohmann::json() : nlohmann::json(code_)}};
  return nlohmann::json{{"error", error}}.dump();
}

}  // namespace duogen::server
