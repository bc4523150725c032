#pragma once
// The byte form of TrainingItems in the row journal (training_writer.h): what one accepted logs
// request produced, written to disk before the request is answered and read back by the writer.
// Little-endian: a version byte, then the StartTrain markers, the performance rows and the
// lifecycle events, each string as a u32 length and its bytes, each number as an i64, an
// optional number as a presence byte and an i64.

#include <string>
#include <string_view>

#include "training/training_items.h"

namespace tp::training {

// Replaces `out` with the encoding of `items`.
void encodeItems(const TrainingItems& items, std::string& out);
// Appends the decoded items to `items`; false (and `items` unchanged) when `bytes` is not a
// whole, well-formed encoding.
bool decodeItems(std::string_view bytes, TrainingItems& items);

}  // namespace tp::training
