# cmake -DINPUT=page.html -DOUTPUT=web_page.inc -DNAME=kIndexHtml -P DuogenEmbedFile.cmake
# Writes the file as a C++ raw string literal, so the binary serves it without reading files.
file(READ "${INPUT}" content)
string(FIND "${content}" ")duogen_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )duogen_embed\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/DuogenEmbedFile.cmake; do not edit.\n"
  "inline constexpr const char ${NAME}[] = R\"duogen_embed(${content})duogen_embed\";\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
