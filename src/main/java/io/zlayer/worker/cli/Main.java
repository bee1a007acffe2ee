package io.zlayer.worker.cli;

public final class Main {
  public static void main(String[] args) {
  }
}
