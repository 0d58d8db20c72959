Console.WriteLine("cim: not built yet");
