#pragma once
// Minimal protobuf wire-format reading and writing over byte views: enough for the
// remote-write messages (their field numbers: prompb/fields.h), without copying or allocating.
// Readers report malformed input through ok() instead of throwing.

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/strings.h"

namespace tp::prompb {

enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class WireReader {
 public:
  explicit WireReader(std::string_view data) : pos_(data.data()), end_(data.data() + data.size()) {}

  bool done() const { return pos_ >= end_ || failed_; }
  bool ok() const { return !failed_; }
  const char* error() const { return error_; }

  // Reads the next field key; false at the end or on error.
  bool nextField(uint32_t* field, WireType* type) {
    if (pos_ >= end_ || failed_) return false;
    uint64_t key = 0;
    if (!readVarint(&key)) return false;
    *field = static_cast<uint32_t>(key >> 3);
    const uint32_t wire = key & 7;
    if (*field == 0) return fail("field number 0");
    if (wire != 0 && wire != 1 && wire != 2 && wire != 5) return fail("unsupported wire type");
    *type = static_cast<WireType>(wire);
    return true;
  }

  bool readVarint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= end_) return fail("truncated varint");
      const uint8_t byte = static_cast<uint8_t>(*pos_++);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return true;
      }
    }
    return fail("varint longer than 10 bytes");
  }

  bool readFixed64(uint64_t* value) {
    if (end_ - pos_ < 8) return fail("truncated fixed64");
    std::memcpy(value, pos_, 8);
    pos_ += 8;
    return true;
  }

  bool readDouble(double* value) {
    uint64_t bits = 0;
    if (!readFixed64(&bits)) return false;
    std::memcpy(value, &bits, 8);
    return true;
  }

  bool readBytes(std::string_view* value) {
    uint64_t length = 0;
    if (!readVarint(&length)) return false;
    if (length > static_cast<uint64_t>(end_ - pos_)) return fail("length beyond the message");
    *value = std::string_view(pos_, static_cast<size_t>(length));
    pos_ += length;
    return true;
  }

  // Skips a field of the given type (unknown fields are allowed by protobuf).
  bool skip(WireType type) {
    uint64_t ignored = 0;
    std::string_view bytes;
    switch (type) {
      case WireType::kVarint:
        return readVarint(&ignored);
      case WireType::kFixed64:
        return readFixed64(&ignored);
      case WireType::kLengthDelimited:
        return readBytes(&bytes);
      case WireType::kFixed32:
        if (end_ - pos_ < 4) return fail("truncated fixed32");
        pos_ += 4;
        return true;
    }
    return fail("unsupported wire type");
  }

 private:
  bool fail(const char* error) {
    if (!failed_) error_ = error;
    failed_ = true;
    return false;
  }

  const char* pos_;
  const char* end_;
  bool failed_ = false;
  const char* error_ = "";
};

// An append-only byte buffer reused across requests. Unlike std::string::resize, extending it
// does not zero the bytes first (they are about to be written): its storage only ever grows.
class OutputBuffer {
 public:
  // Room for `size` more bytes, to be written by the caller.
  char* extend(size_t size) {
    if (storage_.size() < used_ + size)
      storage_.resize(std::max(used_ + size, 2 * storage_.size()));
    char* at = storage_.data() + used_;
    used_ += size;
    return at;
  }
  void clear() { used_ = 0; }
  // Frees the storage when it has grown beyond `keep` bytes (after an unusually large request).
  void releaseIfLarger(size_t keep) {
    common::releaseIfLarger(storage_, keep);
    used_ = 0;
  }
  size_t size() const { return used_; }
  std::string_view view() const { return {storage_.data(), used_}; }

 private:
  std::string storage_;
  size_t used_ = 0;
};

// Writes wire-format fields straight into a caller-owned buffer. The caller states the exact
// number of bytes it will write (protobuf needs message sizes up front anyway), so the buffer
// grows once and every field is a plain store: no per-byte appends.
class WireWriter {
 public:
  WireWriter(OutputBuffer& out, size_t size) {
    pos_ = out.extend(size);
    end_ = pos_ + size;
  }
  ~WireWriter() { assert(pos_ == end_ && "WireWriter: size and content disagree"); }

  static size_t varintSize(uint64_t value) {
    size_t size = 1;
    while (value >= 0x80) {
      value >>= 7;
      ++size;
    }
    return size;
  }
  static size_t bytesFieldSize(uint32_t field, size_t length) {
    return varintSize(field << 3) + varintSize(length) + length;
  }

  void varint(uint64_t value) {
    while (value >= 0x80) {
      *pos_++ = static_cast<char>(value | 0x80);
      value >>= 7;
    }
    *pos_++ = static_cast<char>(value);
  }
  void key(uint32_t field, WireType type) { varint((field << 3) | static_cast<uint32_t>(type)); }
  void bytesField(uint32_t field, std::string_view value) {
    key(field, WireType::kLengthDelimited);
    varint(value.size());
    raw(value);
  }
  void lengthPrefix(uint32_t field, size_t length) {
    key(field, WireType::kLengthDelimited);
    varint(length);
  }
  void fixed64Field(uint32_t field, uint64_t bits) {
    key(field, WireType::kFixed64);
    std::memcpy(pos_, &bits, 8);
    pos_ += 8;
  }
  void doubleField(uint32_t field, double value) {
    uint64_t bits = 0;
    std::memcpy(&bits, &value, 8);
    fixed64Field(field, bits);
  }
  void varintField(uint32_t field, uint64_t value) {
    key(field, WireType::kVarint);
    varint(value);
  }
  void raw(std::string_view bytes) {
    if (bytes.empty()) return;  // an empty view may carry a null pointer, which memcpy forbids
    std::memcpy(pos_, bytes.data(), bytes.size());
    pos_ += bytes.size();
  }

 private:
  char* pos_;
  char* end_;
};

}  // namespace tp::prompb
