// The message of the exception a call is expected to throw, for tests that check what an error
// says. A wrong exception type or none at all is a test failure (and "" is returned).
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace duogen::testing {

template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

}  // namespace duogen::testing
